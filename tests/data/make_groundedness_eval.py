"""Build tests/data/groundedness_eval.jsonl: answers labelled grounded (1) or unsupported (0).

Every passage, question and answer below was written for prodline (fictional companies,
self-written general-knowledge summaries); nothing is copied from elsewhere. Per passage:

- five grounded answers: ``extractive`` (copied sentences), ``paraphrase``, ``synthesis``
  (several sentences combining the contexts), ``short`` (one brief claim) and ``reworded``
  (heavy rewording, approximate quantities: the hard positives);
- five unsupported answers: ``fabricated`` (a plausible on-topic claim the context does not
  make, sometimes true in the world), ``changed`` (a number, date or name altered),
  ``contradiction`` (negated, reversed or swapped), ``partial`` (the grounded ``short``
  sentence plus a fabricated one) and ``unrelated`` (a grounded answer from another passage
  of the same domain and split).

Citation markers and filler openers ("Sure!") are added deterministically to answers of
every kind, so neither is a cue. Passages alternate between the ``train`` and ``test``
splits within each domain; weights are fitted on train and ROC AUC is reported on test.

Run: ``python tests/data/make_groundedness_eval.py`` (rewrites the jsonl next to it).
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("groundedness_eval.jsonl")
GROUNDED = ("extractive", "paraphrase", "synthesis", "short", "reworded")
FILLERS = ("Sure!", "Good question.", "Hi there!", "Yes.")

PASSAGES: list[dict[str, Any]] = [
    # ------------------------------------------------------------------ support desk
    {
        "topic": "returns-refunds",
        "domain": "support",
        "question": "How long do I have to return an item and how do I get my money back?",
        "contexts": [
            "Lumio accepts returns of unused items within 30 days of delivery. To start a "
            "return, open the order in your account and choose Return items. Once the "
            "warehouse receives the parcel, the refund is issued to the original payment "
            "method within 5 business days. Original shipping charges are not refunded, "
            "except when the item arrived damaged or was sent in error. Items bought with a "
            "gift card are refunded as store credit.",
            "Sale items marked Final sale cannot be returned. Customers outside the EU pay "
            "for their own return shipping; EU customers can print a free return label from "
            "the order page.",
        ],
        "extractive": "Lumio accepts returns of unused items within 30 days of delivery. "
        "Once the warehouse receives the parcel, the refund is issued to the original "
        "payment method within 5 business days.",
        "paraphrase": "You can send back unused items for up to 30 days after they are "
        "delivered, and your money goes back to the method you paid with within 5 business "
        "days of the parcel reaching the warehouse.",
        "synthesis": "Open the order in your account and choose Return items within 30 days "
        "of delivery. If you are in the EU you can print a free return label from the order "
        "page. After the warehouse gets the parcel, the refund arrives within 5 business "
        "days, though original shipping charges are only refunded for damaged or wrongly "
        "sent items.",
        "short": "You have 30 days from delivery to return unused items.",
        "reworded": "Returns are accepted for a month after delivery as long as the item is "
        "unused; refunds land on your original payment method a few business days after the "
        "warehouse receives it.",
        "fabricated": "You can also return items in person at any Lumio store, where refunds "
        "are paid out in cash immediately.",
        "fabricated_extra": "Refunds for orders paid with PayPal usually arrive the same day.",
        "changed": "Lumio accepts returns of unused items within 60 days of delivery, and the "
        "refund is issued within 5 business days.",
        "contradiction": "Once the warehouse receives the parcel, the refund is issued as "
        "store credit rather than to the original payment method.",
    },
    {
        "topic": "account-lockout",
        "domain": "support",
        "question": "I'm locked out of Brightdesk after too many attempts. What can I do?",
        "contexts": [
            "If you forget your Brightdesk password, select Forgot password on the sign-in "
            "page and enter your work email. We send a reset link that stays valid for 60 "
            "minutes. After five failed sign-in attempts the account is locked for 15 "
            "minutes; the lock lifts on its own, and an administrator can also unlock it "
            "earlier from the Users page. Passwords must be at least 12 characters long and "
            "cannot reuse any of your last 4 passwords.",
            "Single sign-on customers manage passwords in their identity provider, so the "
            "Forgot password link is hidden for them. Contact your company's IT team in that "
            "case.",
        ],
        "extractive": "After five failed sign-in attempts the account is locked for 15 "
        "minutes. The lock lifts on its own, and an administrator can also unlock it earlier "
        "from the Users page.",
        "paraphrase": "Your account unlocks automatically 15 minutes after the fifth failed "
        "attempt, or an admin can unlock it sooner on the Users page.",
        "synthesis": "Wait 15 minutes for the lock to clear, or ask an administrator to "
        "unlock you from the Users page. If you have forgotten the password, use Forgot "
        "password on the sign-in page; the reset link is valid for 60 minutes. Your new "
        "password needs at least 12 characters and must differ from your last 4.",
        "short": "The lock clears by itself after 15 minutes.",
        "reworded": "Just give it a quarter of an hour and you'll be able to sign in again, "
        "or have one of your admins release the lock right away.",
        "fabricated": "You can also unlock the account yourself by answering your security "
        "questions in the mobile app.",
        "fabricated_extra": "Repeated lockouts are reported to your manager automatically.",
        "changed": "After three failed sign-in attempts the account is locked for 15 "
        "minutes, and an administrator can unlock it earlier.",
        "contradiction": "The lock does not lift on its own; only an administrator can unlock "
        "the account.",
    },
    {
        "topic": "furniture-delivery",
        "domain": "support",
        "question": "How does delivery of a sofa work?",
        "contexts": [
            "Pebble & Pine delivers small items such as lamps and cushions by courier in 2 to "
            "4 working days. Large furniture is delivered by our own two-person team, who "
            "bring the item to the room of your choice and take away the packaging. "
            "Large-item deliveries are booked in a two-hour slot that you choose after "
            "checkout. Delivery is free on orders over £500; below that, standard delivery "
            "costs £39. We do not currently deliver to the Scottish Highlands or the islands.",
        ],
        "extractive": "Large furniture is delivered by our own two-person team, who bring the "
        "item to the room of your choice and take away the packaging.",
        "paraphrase": "A sofa counts as large furniture, so two of Pebble & Pine's own staff "
        "deliver it, carry it into whichever room you like and remove the packaging "
        "afterwards.",
        "synthesis": "Sofas are delivered by a two-person Pebble & Pine team in a two-hour "
        "slot you pick after checkout. They place it in the room you choose and take the "
        "packaging away. Delivery is free if your order is over £500, otherwise it costs £39.",
        "short": "You choose a two-hour delivery slot after checkout.",
        "reworded": "Our own crew of two brings big pieces like sofas right into the room you "
        "want and clears away all the wrapping, at a time window you book once you've paid.",
        "fabricated": "The team can also assemble the sofa and remove your old one for a "
        "small extra fee.",
        "fabricated_extra": "Deliveries also run on Sundays in most of England.",
        "changed": "Delivery is free on orders over £300; below that, standard delivery costs £39.",
        "contradiction": "Large furniture is left at the front door by a courier, and you "
        "will need to unpack it yourself.",
    },
    {
        "topic": "subscription-cancel",
        "domain": "support",
        "question": "If I cancel Streamly Premium, do I lose my playlists and get money back?",
        "contexts": [
            "You can cancel a Streamly Premium subscription at any time from Account > "
            "Subscription > Cancel plan. Cancelling stops the next renewal, and you keep "
            "Premium features until the end of the billing period you have already paid for. "
            "We do not give partial refunds for unused days, except where local law requires "
            "it. After the period ends your account switches to the free plan, and "
            "downloaded songs are removed from your devices. Playlists and liked songs are "
            "kept.",
            "Subscriptions bought through the App Store or Google Play must be cancelled in "
            "that store's settings, not on the Streamly website.",
        ],
        "extractive": "Playlists and liked songs are kept. We do not give partial refunds for "
        "unused days, except where local law requires it.",
        "paraphrase": "Your playlists and liked songs stay on your account, but you won't be "
        "refunded for the unused part of the billing period unless the law where you live "
        "requires it.",
        "synthesis": "Cancel from Account > Subscription > Cancel plan, or in the App Store or "
        "Google Play settings if you subscribed there. You keep Premium until the paid "
        "billing period ends, then the account moves to the free plan. Your playlists and "
        "liked songs remain, but downloaded songs are removed from your devices.",
        "short": "Yes, your playlists are kept after you cancel.",
        "reworded": "Cancelling won't touch your playlists or liked tracks, although offline "
        "downloads get wiped once the paid period runs out, and unused days aren't "
        "reimbursed unless local law says otherwise.",
        "fabricated": "If you rejoin within 90 days, Streamly restores your downloaded songs "
        "automatically.",
        "fabricated_extra": "You will also receive a confirmation email with a discount code "
        "to come back.",
        "changed": "Cancelling stops the next renewal, and you keep Premium features for 7 "
        "more days.",
        "contradiction": "Your playlists are deleted when the subscription ends, so export "
        "them before cancelling.",
    },
    {
        "topic": "headphone-warranty",
        "domain": "support",
        "question": "My Kestrel headphones stopped charging after a year. Is that covered?",
        "contexts": [
            "Kestrel headphones come with a two-year limited warranty from the date of "
            "purchase. The warranty covers manufacturing defects such as faulty drivers, "
            "broken hinges that were not caused by a fall, and charging faults. It does not "
            "cover water damage, lost ear tips, or normal battery wear; a battery that still "
            "holds 70% of its original capacity is considered normal. To make a claim, "
            "register the product serial number on kestrel-audio.example and upload a proof "
            "of purchase. Approved claims are repaired or replaced, at Kestrel's choice, and "
            "the replacement carries the remainder of the original warranty.",
        ],
        "extractive": "The warranty covers manufacturing defects such as faulty drivers, "
        "broken hinges that were not caused by a fall, and charging faults. Kestrel "
        "headphones come with a two-year limited warranty from the date of purchase.",
        "paraphrase": "Yes, a charging fault is a covered manufacturing defect, and at one "
        "year old your headphones are still inside the two-year warranty.",
        "synthesis": "Charging faults are covered by Kestrel's two-year warranty. Register the "
        "serial number on kestrel-audio.example and upload your proof of purchase to claim. "
        "Kestrel will then repair or replace the headphones, and a replacement keeps the "
        "rest of the original warranty.",
        "short": "Charging faults are covered under the warranty.",
        "reworded": "Since the headphones are only a year old and a failure to charge is "
        "treated as a factory defect, you can file a claim; Kestrel decides whether to fix "
        "them or swap them for a new pair.",
        "fabricated": "Kestrel also sends a free prepaid shipping box within 48 hours of your "
        "claim.",
        "fabricated_extra": "You can extend the warranty by a third year for a small fee.",
        "changed": "Kestrel headphones come with a one-year limited warranty, so a fault "
        "after a year is no longer covered.",
        "contradiction": "Charging faults are not covered, because the warranty excludes "
        "anything related to the battery.",
    },
    {
        "topic": "change-email",
        "domain": "support",
        "question": "How do I update the email on my Tallyfin account?",
        "contexts": [
            "To change the email address on your Tallyfin account, go to Settings > Profile "
            "and enter the new address. We send a confirmation link to the new address, and "
            "the change takes effect only after you click it. The link expires after 24 "
            "hours. For security, we also send a notice to the old address, and you can "
            "cancel the change from that notice within 7 days. Accounts with two-factor "
            "authentication will be asked for a code before the change is saved.",
        ],
        "extractive": "Go to Settings > Profile and enter the new address. We send a "
        "confirmation link to the new address, and the change takes effect only after you "
        "click it.",
        "paraphrase": "Enter your new email under Settings > Profile, then open the "
        "confirmation link we email to that new address; nothing changes until you click it.",
        "synthesis": "Open Settings > Profile, type the new address and, if you use "
        "two-factor authentication, enter your code. Confirm the change from the link sent to "
        "the new address within 24 hours. The old address gets a notice too and can cancel "
        "the change for 7 days.",
        "short": "The confirmation link expires after 24 hours.",
        "reworded": "Update it from your profile settings; the switch only happens once you "
        "confirm from the new inbox, and the old inbox is warned so it can undo the switch "
        "for a week.",
        "fabricated": "Support agents can also change the address for you over the phone "
        "after verifying your date of birth.",
        "fabricated_extra": "You can only change your email address once every 30 days.",
        "changed": "We send a confirmation link to the new address, and the link expires "
        "after 72 hours.",
        "contradiction": "The change takes effect immediately, and the confirmation link is "
        "only sent afterwards as a receipt.",
    },
    # ------------------------------------------------------------------ internal policy
    {
        "topic": "meal-expenses",
        "domain": "policy",
        "question": "What's the meal allowance when travelling for work in Europe?",
        "contexts": [
            "Employees travelling on company business may claim meals up to a daily limit of "
            "€60 in Europe and $75 in North America. Alcohol is not reimbursed, except at "
            "client dinners approved in advance by a director. Receipts are required for "
            "every item above €25; smaller items may be claimed with a note. Claims must be "
            "submitted in the expense tool within 30 days of the trip, and late claims need "
            "approval from the finance controller.",
            "Hotel stays are booked through the travel portal and paid by the company "
            "directly, so they are not part of the meal claim.",
        ],
        "extractive": "Employees travelling on company business may claim meals up to a daily "
        "limit of €60 in Europe.",
        "paraphrase": "On a business trip in Europe you can expense up to €60 per day for food.",
        "synthesis": "In Europe you can claim meals up to €60 a day, and you need receipts "
        "for anything over €25. Alcohol is only reimbursed at client dinners that a director "
        "approved in advance. Submit the claim in the expense tool within 30 days of the trip.",
        "short": "The daily meal limit in Europe is €60.",
        "reworded": "Food on European work trips is covered up to sixty euros a day, but "
        "drinks with alcohol are on you unless it's a director-approved client dinner.",
        "fabricated": "Any unused part of the daily allowance can be carried over to the next "
        "day of the trip.",
        "fabricated_extra": "Breakfast is not included when the hotel rate already covers it.",
        "changed": "Employees travelling in Europe may claim meals up to a daily limit of €80.",
        "contradiction": "Receipts are never required for meals, whatever the amount.",
    },
    {
        "topic": "work-abroad",
        "domain": "policy",
        "question": "Can I work from abroad for a few weeks?",
        "contexts": [
            "Northvale staff may work remotely up to three days a week, agreed with their "
            "line manager. Core collaboration hours are 10:00 to 15:00 in the employee's home "
            "office time zone, and people are expected to be reachable then. Working from "
            "another country is allowed for up to 20 working days a year and must be "
            "registered with HR at least two weeks beforehand, because of tax and insurance "
            "rules. The company provides a laptop and a monitor; other equipment is covered "
            "by a one-off home office budget of €300.",
        ],
        "extractive": "Working from another country is allowed for up to 20 working days a "
        "year and must be registered with HR at least two weeks beforehand.",
        "paraphrase": "Yes, for a limited time: you may work from another country for a "
        "maximum of 20 working days per year, as long as you tell HR two weeks in advance.",
        "synthesis": "You can work abroad for up to 20 working days a year if you register it "
        "with HR at least two weeks before, since tax and insurance rules apply. While away "
        "you still need to be reachable during core hours, 10:00 to 15:00 in your home "
        "office time zone.",
        "short": "Register working abroad with HR at least two weeks beforehand.",
        "reworded": "A stint abroad is fine if it stays within four working weeks in the year "
        "and HR hears about it a fortnight ahead, because of tax and insurance.",
        "fabricated": "Trips longer than that need a signed approval from the chief executive "
        "and a local work permit.",
        "fabricated_extra": "The company also pays for co-working space while you are abroad.",
        "changed": "Working from another country is allowed for up to 60 working days a year "
        "if it is registered with HR.",
        "contradiction": "Working from another country is not permitted at all because of tax "
        "and insurance rules.",
    },
    {
        "topic": "parental-leave",
        "domain": "policy",
        "question": "How much paid parental leave does the second parent get?",
        "contexts": [
            "Northvale offers 16 weeks of fully paid leave to the primary caregiver of a new "
            "child, whether by birth, adoption or surrogacy. The second parent receives 6 "
            "weeks of fully paid leave, which can be taken in one block or in two blocks "
            "within the child's first year. Employees are eligible after six months of "
            "service. Leave should be requested through the HR portal at least eight weeks "
            "before the expected start date. On return, employees may work 80% of their "
            "hours for full pay during the first month.",
        ],
        "extractive": "The second parent receives 6 weeks of fully paid leave, which can be "
        "taken in one block or in two blocks within the child's first year.",
        "paraphrase": "The non-primary parent gets six weeks off on full pay, either all at "
        "once or split into two parts before the child turns one.",
        "synthesis": "The second parent gets 6 weeks of fully paid leave, which can be split "
        "into two blocks within the child's first year. You qualify after six months of "
        "service and should request it through the HR portal eight weeks before it starts.",
        "short": "Second parents get 6 weeks at full pay.",
        "reworded": "Partners who aren't the main caregiver are entitled to a month and a "
        "half of leave at their normal salary, usable in up to two chunks during the baby's "
        "first year.",
        "fabricated": "They can also add up to four weeks of unpaid leave straight after the "
        "paid period.",
        "fabricated_extra": "Leave for the second parent must start within a week of the birth.",
        "changed": "The second parent receives 10 weeks of fully paid leave within the "
        "child's first year.",
        "contradiction": "The second parent's leave must be taken in a single block and "
        "cannot be split.",
    },
    {
        "topic": "data-retention",
        "domain": "policy",
        "question": "How long do we keep call recordings?",
        "contexts": [
            "Customer support tickets are kept for 3 years after the ticket is closed and "
            "then deleted automatically. Call recordings are kept for 90 days, unless they "
            "are attached to an open complaint, in which case they are kept until the "
            "complaint is resolved. Invoices and other accounting records are kept for 10 "
            "years to meet tax law. Backups follow the same schedule, with a delay of up to "
            "35 days before deleted data leaves the last backup. Requests to delete personal "
            "data earlier go to the privacy team at privacy@northvale.example.",
            "Employee HR records are covered by a separate retention schedule published on "
            "the intranet.",
        ],
        "extractive": "Call recordings are kept for 90 days, unless they are attached to an "
        "open complaint, in which case they are kept until the complaint is resolved.",
        "paraphrase": "We store call recordings for 90 days, but a recording linked to an "
        "unresolved complaint is held until that complaint is closed.",
        "synthesis": "Call recordings are normally kept for 90 days, longer if they belong to "
        "an open complaint. Once deleted, a recording can still sit in backups for up to 35 "
        "days. Anyone wanting personal data deleted sooner should contact "
        "privacy@northvale.example.",
        "short": "Call recordings are kept for 90 days.",
        "reworded": "Roughly three months, although any recording tied to a complaint that "
        "hasn't been settled yet is retained until the complaint ends.",
        "fabricated": "Recordings of sales calls are exempt and are kept for a full year for "
        "training purposes.",
        "fabricated_extra": "Agents can download recordings to their laptops for coaching.",
        "changed": "Call recordings are kept for 30 days, unless they are attached to an open "
        "complaint.",
        "contradiction": "Call recordings are deleted after 90 days even when they are "
        "attached to an open complaint.",
    },
    {
        "topic": "security-incident",
        "domain": "policy",
        "question": "I clicked a link in a phishing email. What should I do?",
        "contexts": [
            "Anyone who suspects a security incident, such as a lost laptop, a phishing email "
            "that was clicked, or data sent to the wrong person, must report it to the "
            "security team within one hour of noticing it. Report through the "
            "#security-incidents channel or by calling the security hotline on extension "
            "4040. Do not try to investigate or delete anything yourself, because that can "
            "destroy evidence. The security team decides whether the incident must be "
            "reported to the data protection authority, which has to happen within 72 hours.",
        ],
        "extractive": "Report it to the security team within one hour of noticing it, "
        "through the #security-incidents channel or by calling the security hotline on "
        "extension 4040.",
        "paraphrase": "Tell the security team straight away, at the latest one hour after you "
        "noticed, either in the #security-incidents channel or on hotline extension 4040.",
        "synthesis": "A clicked phishing link counts as a security incident, so report it "
        "within an hour via #security-incidents or extension 4040. Don't investigate or "
        "delete anything yourself, since that can destroy evidence. The security team will "
        "decide whether the data protection authority must be told, which has to happen "
        "within 72 hours.",
        "short": "Call the security hotline on extension 4040.",
        "reworded": "Leave the email alone rather than deleting it, and alert security within "
        "the hour using their incidents channel or their phone line.",
        "fabricated": "You should also change your password and run a full antivirus scan "
        "before contacting anyone.",
        "fabricated_extra": "Your laptop will be reimaged by IT within two working days.",
        "changed": "Report it to the security team within 24 hours, by calling the security "
        "hotline on extension 4040.",
        "contradiction": "Delete the email and any downloaded files first, then report it to "
        "the security team.",
    },
    {
        "topic": "business-class",
        "domain": "policy",
        "question": "Can I fly business class to Singapore?",
        "contexts": [
            "All business travel must be booked through the Northvale travel portal so that "
            "the company can locate travellers in an emergency. Economy class is the default "
            "for flights; premium economy is allowed for flights longer than six hours, and "
            "business class requires approval from a vice president. Hotels are reimbursed up "
            "to the city rate listed in the portal, for example €180 a night in Paris and "
            "€140 in Berlin. Rail is preferred over flying for journeys under four hours.",
        ],
        "extractive": "Business class requires approval from a vice president.",
        "paraphrase": "Only with a vice president's sign-off; without it, flights are economy, "
        "or premium economy when they last more than six hours.",
        "synthesis": "Flights default to economy, but because a flight to Singapore is longer "
        "than six hours you may book premium economy. Business class is possible only with a "
        "vice president's approval. The booking itself must go through the Northvale travel "
        "portal.",
        "short": "Business class needs a vice president's approval.",
        "reworded": "You'd need a VP to approve it; on a long-haul trip like that you can "
        "otherwise upgrade one notch to premium economy.",
        "fabricated": "Business class is automatically approved for flights over twelve hours.",
        "fabricated_extra": "Lounge access is reimbursed on all international trips.",
        "changed": "Premium economy is allowed for flights longer than three hours, and "
        "business class requires approval from your line manager.",
        "contradiction": "Business class is never allowed, even with approval.",
    },
    # ------------------------------------------------------------------ product
    {
        "topic": "api-rate-limits",
        "domain": "product",
        "question": "What happens if my app exceeds the Orbitly rate limit?",
        "contexts": [
            "The Orbitly REST API allows 600 requests per minute per API key on the Standard "
            "plan and 3,000 on the Enterprise plan. When a key goes over its limit, the API "
            "returns HTTP 429 with a Retry-After header giving the number of seconds to wait. "
            "Limits are counted in a sliding one-minute window. Batch endpoints count as a "
            "single request regardless of how many records they contain, up to 500 records "
            "per call.",
            "API keys are created in the Orbitly dashboard under Settings > Developers. Each "
            "key can be restricted to read-only access.",
        ],
        "extractive": "When a key goes over its limit, the API returns HTTP 429 with a "
        "Retry-After header giving the number of seconds to wait.",
        "paraphrase": "Requests beyond the limit are rejected with status 429, and the "
        "Retry-After header tells you how many seconds to back off.",
        "synthesis": "On the Standard plan each key may send 600 requests per minute, counted "
        "over a sliding window. Above that the API answers with HTTP 429 and a Retry-After "
        "header saying how long to wait. Using batch endpoints helps, because a batch of up "
        "to 500 records counts as one request.",
        "short": "You get an HTTP 429 response.",
        "reworded": "Extra calls get bounced with a too-many-requests error, and the response "
        "header tells your client exactly how long to pause before trying again.",
        "fabricated": "Keys that exceed the limit three times in an hour are suspended for a day.",
        "fabricated_extra": "Rate limits are lifted automatically for customers on annual billing.",
        "changed": "When a key goes over its limit, the API returns HTTP 503 with a "
        "Retry-After header.",
        "contradiction": "Requests over the limit are queued and processed later rather than "
        "rejected.",
    },
    {
        "topic": "thermostat-power",
        "domain": "product",
        "question": "Does the Hearthly T2 need to be wired in?",
        "contexts": [
            "The Hearthly T2 thermostat runs on two AA batteries or on a 24 V C-wire from "
            "your heating system. On batteries it typically lasts about a year, and the app "
            "warns you when less than 15% charge is left. It connects over 2.4 GHz Wi-Fi; "
            "5 GHz networks are not supported. The built-in sensor measures temperature to "
            "within 0.5 °C and humidity to within 3%. If the Wi-Fi connection drops, the "
            "thermostat keeps following its last schedule.",
        ],
        "extractive": "The Hearthly T2 thermostat runs on two AA batteries or on a 24 V "
        "C-wire from your heating system.",
        "paraphrase": "No, wiring is optional: the T2 can run on a pair of AA batteries "
        "instead of a 24 V C-wire.",
        "synthesis": "You can power the T2 from a 24 V C-wire or simply use two AA batteries. "
        "Batteries usually last about a year, and the app warns you when charge drops below "
        "15%.",
        "short": "It can run on two AA batteries.",
        "reworded": "A C-wire is one option, but a couple of standard AA cells will also "
        "power it for roughly twelve months before the app asks you to swap them.",
        "fabricated": "Hearthly also sells a rechargeable battery pack that lasts three years.",
        "fabricated_extra": "It also works with Zigbee hubs for local control.",
        "changed": "The Hearthly T2 thermostat runs on four AAA batteries or on a 24 V C-wire.",
        "contradiction": "It only works when wired to a C-wire, since it has no battery option.",
    },
    {
        "topic": "pricing-plans",
        "domain": "product",
        "question": "How much is Quillnote Pro and what do I get?",
        "contexts": [
            "Quillnote Free includes up to 3 notebooks and 100 MB of storage. Quillnote Pro "
            "costs $8 per user per month, or $80 per user per year, and adds unlimited "
            "notebooks, 20 GB of storage, and offline access on mobile. The Team plan costs "
            "$14 per user per month and adds shared workspaces, admin controls and single "
            "sign-on. All paid plans start with a 14-day free trial, and no card is needed "
            "to start it.",
        ],
        "extractive": "Quillnote Pro costs $8 per user per month, or $80 per user per year, "
        "and adds unlimited notebooks, 20 GB of storage, and offline access on mobile.",
        "paraphrase": "Pro is $8 a month per user, or $80 a year if you pay annually, and it "
        "gives you as many notebooks as you like, 20 GB of space and offline use on your "
        "phone.",
        "synthesis": "Quillnote Pro costs $8 per user per month or $80 per year. Compared with "
        "Free, which allows 3 notebooks and 100 MB, you get unlimited notebooks, 20 GB of "
        "storage and offline access on mobile. You can try it free for 14 days without "
        "entering a card.",
        "short": "Pro is $8 per user per month.",
        "reworded": "The paid individual tier runs eight dollars monthly per person, with a "
        "cheaper yearly option, and removes the notebook cap while adding offline mobile "
        "access.",
        "fabricated": "Students and teachers get Quillnote Pro at half price with a school "
        "email address.",
        "fabricated_extra": "Pro also includes AI summaries of your notes.",
        "changed": "Quillnote Pro costs $10 per user per month and adds unlimited notebooks "
        "and 20 GB of storage.",
        "contradiction": "Pro does not include offline access; that is only available on the "
        "Team plan.",
    },
    {
        "topic": "nas-snapshots",
        "domain": "product",
        "question": "How do I get back a file I overwrote yesterday on my Vaultbox?",
        "contexts": [
            "Vaultbox snapshots run every hour by default and are kept according to the "
            "retention rule you choose: the default keeps hourly snapshots for 48 hours, "
            "daily snapshots for 30 days and weekly snapshots for 6 months. Snapshots are "
            "read-only, so ransomware on a connected computer cannot encrypt them. Restoring "
            "a single file is done from the Files app by opening Previous versions. To copy "
            "snapshots off-site, enable Cloud Sync to an S3-compatible bucket.",
            "Vaultbox models with two or more drives can mirror data so that a single drive "
            "failure loses nothing.",
        ],
        "extractive": "Restoring a single file is done from the Files app by opening Previous "
        "versions.",
        "paraphrase": "Open the file in the Files app and go to Previous versions to restore "
        "an earlier copy from a snapshot.",
        "synthesis": "Snapshots are taken every hour and, by default, hourly ones are kept "
        "for 48 hours, so yesterday's version should still exist. Open the Files app, choose "
        "Previous versions and restore the copy you need.",
        "short": "Use Previous versions in the Files app.",
        "reworded": "Because the box snapshots itself hourly and keeps those for two days, a "
        "copy from yesterday is available; just pull it back through the file manager's "
        "version history.",
        "fabricated": "You can also ask Vaultbox support to recover the file from their "
        "servers within 24 hours.",
        "fabricated_extra": "Restored files are placed in a Recovered folder on the desktop.",
        "changed": "By default, hourly snapshots are kept for 12 hours, so use Previous "
        "versions in the Files app quickly.",
        "contradiction": "Snapshots can be edited, so you can open yesterday's snapshot and "
        "change the file in place.",
    },
    {
        "topic": "release-notes",
        "domain": "product",
        "question": "What's new in Fernline 4.2?",
        "contexts": [
            "Fernline 4.2 was released on 12 March 2024. It adds dark mode on Windows and "
            "macOS, speeds up project loading by about 40% for large projects, and fixes a "
            "crash when exporting to PDF with embedded fonts. Support for Windows 8.1 ends "
            "with this release; Fernline 4.2 requires Windows 10 or later. Linux packages "
            "will follow in version 4.3.",
        ],
        "extractive": "It adds dark mode on Windows and macOS, speeds up project loading by "
        "about 40% for large projects, and fixes a crash when exporting to PDF with embedded "
        "fonts.",
        "paraphrase": "Version 4.2 brings a dark theme to Windows and macOS, loads large "
        "projects roughly 40% faster and fixes the crash during PDF export with embedded "
        "fonts.",
        "synthesis": "Fernline 4.2, released on 12 March 2024, adds dark mode on Windows and "
        "macOS and loads big projects about 40% faster. It also fixes the PDF export crash "
        "with embedded fonts. Note that it needs Windows 10 or later, as Windows 8.1 is no "
        "longer supported.",
        "short": "Fernline 4.2 adds dark mode.",
        "reworded": "The March 2024 update gives Windows and Mac users a dark look, makes "
        "opening big projects noticeably quicker, and stops PDF exports with embedded fonts "
        "from crashing.",
        "fabricated": "It also adds real-time collaboration so several people can edit the "
        "same project.",
        "fabricated_extra": "An iPad version is planned for the summer.",
        "changed": "Fernline 4.2 was released on 12 May 2024 and adds dark mode on Windows and "
        "macOS.",
        "contradiction": "Dark mode is only available on Linux in this release.",
    },
    {
        "topic": "bank-feeds",
        "domain": "product",
        "question": "Why do I have to reconnect my bank to Tallyfin every few months?",
        "contexts": [
            "Tallyfin connects to more than 300 banks in the UK and Ireland through open "
            "banking. Once connected, transactions are imported automatically four times a "
            "day. The bank connection must be renewed every 90 days, as required by open "
            "banking rules; Tallyfin emails you a reminder 7 days before it expires. Banks "
            "that are not supported can still be used by uploading CSV or OFX statements.",
        ],
        "extractive": "The bank connection must be renewed every 90 days, as required by open "
        "banking rules.",
        "paraphrase": "Open banking rules require the connection to be re-authorised every 90 "
        "days, so Tallyfin asks you to renew it.",
        "synthesis": "Open banking rules make bank connections expire after 90 days, so you "
        "need to renew yours. Tallyfin emails you a reminder 7 days before it runs out. While "
        "connected, transactions import automatically four times a day.",
        "short": "Open banking rules require renewal every 90 days.",
        "reworded": "It's a regulatory requirement of open banking rather than a Tallyfin "
        "choice: access lapses roughly every three months, and you'll get an email a week "
        "beforehand.",
        "fabricated": "Renewing more often than required can cause duplicate transactions to "
        "appear.",
        "fabricated_extra": "Business accounts at Barclays are exempt from renewal.",
        "changed": "The bank connection must be renewed every 180 days, and Tallyfin emails "
        "you a reminder 7 days before.",
        "contradiction": "The renewal is a Tallyfin security setting, not an open banking "
        "requirement, and you can switch it off.",
    },
    # ------------------------------------------------------------------ general knowledge
    {
        "topic": "honey-bees",
        "domain": "general",
        "question": "How do honey bees tell each other where flowers are?",
        "contexts": [
            "A honey bee colony usually has a single queen, a few hundred drones and tens of "
            "thousands of female workers. Workers change jobs as they age: young bees clean "
            "cells and feed larvae, while older bees guard the entrance and forage for nectar "
            "and pollen. Foragers tell nestmates where flowers are with the waggle dance, "
            "whose angle shows the direction relative to the sun and whose length shows the "
            "distance. In summer a worker lives about five to six weeks.",
            "Honey is made from nectar that workers store in wax cells and dry by fanning "
            "their wings.",
        ],
        "extractive": "Foragers tell nestmates where flowers are with the waggle dance, whose "
        "angle shows the direction relative to the sun and whose length shows the distance.",
        "paraphrase": "They perform the waggle dance: its angle points out the direction "
        "compared with the sun, and how long it lasts indicates how far away the flowers are.",
        "synthesis": "Older worker bees forage for nectar and pollen, and when they return "
        "they do the waggle dance. The angle of the dance gives the direction relative to "
        "the sun, and its length gives the distance.",
        "short": "They use the waggle dance.",
        "reworded": "Returning foragers dance; the tilt of the dance encodes the heading "
        "relative to the sun, and its duration encodes how far to fly.",
        "fabricated": "Bees also leave scent marks on the flowers so that nestmates can find them.",
        "fabricated_extra": "The dance is performed in complete darkness inside the hive.",
        "changed": "Foragers tell nestmates where flowers are with the waggle dance, whose "
        "angle shows the direction relative to the moon.",
        "contradiction": "The angle of the waggle dance shows the distance, while its length "
        "shows the direction.",
    },
    {
        "topic": "danube",
        "domain": "general",
        "question": "Which capital cities does the Danube flow through?",
        "contexts": [
            "The Danube is Europe's second-longest river after the Volga, flowing about "
            "2,850 kilometres from the Black Forest in Germany to the Black Sea. It passes "
            "through or along the borders of ten countries, more than any other river in the "
            "world. Four capital cities lie on its banks: Vienna, Bratislava, Budapest and "
            "Belgrade. Near its mouth it forms the Danube Delta, a large wetland that is home "
            "to more than 300 species of birds.",
        ],
        "extractive": "Four capital cities lie on its banks: Vienna, Bratislava, Budapest and "
        "Belgrade.",
        "paraphrase": "The river runs past four capitals: Vienna, Bratislava, Budapest and "
        "Belgrade.",
        "synthesis": "Flowing some 2,850 kilometres from the Black Forest to the Black Sea, "
        "the Danube touches ten countries. Along the way it passes four capitals: Vienna, "
        "Bratislava, Budapest and Belgrade.",
        "short": "It flows through Vienna, Budapest, Bratislava and Belgrade.",
        "reworded": "Its banks are home to four national capitals, namely Belgrade, Budapest, "
        "Bratislava and Vienna.",
        "fabricated": "It also flows through Bucharest, which is the largest city on the river.",
        "fabricated_extra": "Boats can sail the whole length of the river from the source to "
        "the sea.",
        "changed": "Four capital cities lie on its banks: Vienna, Bratislava, Budapest and Sofia.",
        "contradiction": "Vienna is the only capital city on the Danube.",
    },
    {
        "topic": "photosynthesis",
        "domain": "general",
        "question": "Why are leaves green?",
        "contexts": [
            "Photosynthesis is the process by which plants, algae and some bacteria turn "
            "light energy into chemical energy. In plants it takes place mainly in the "
            "chloroplasts of leaf cells, where the pigment chlorophyll absorbs mostly red "
            "and blue light and reflects green. The plant takes in carbon dioxide and water "
            "and, using light, produces glucose and releases oxygen as a by-product. The "
            "light-dependent reactions happen in the thylakoid membranes, and the Calvin "
            "cycle, which fixes carbon, runs in the stroma.",
            "Cellular respiration, which happens in the mitochondria, releases the energy "
            "stored in glucose.",
        ],
        "extractive": "The pigment chlorophyll absorbs mostly red and blue light and reflects "
        "green.",
        "paraphrase": "Chlorophyll in the leaves soaks up mainly red and blue light while "
        "reflecting the green part, which is what we see.",
        "synthesis": "Leaves contain chloroplasts, where photosynthesis mainly happens. Their "
        "pigment, chlorophyll, absorbs mostly red and blue light and reflects green light, so "
        "leaves look green.",
        "short": "Because chlorophyll reflects green light.",
        "reworded": "The light-capturing pigment in leaf cells uses the red and blue ends of "
        "the spectrum and bounces the green back to our eyes.",
        "fabricated": "In autumn the chlorophyll breaks down, revealing yellow and orange "
        "pigments.",
        "fabricated_extra": "Plants that grow in shade have more chlorophyll than plants in "
        "full sun.",
        "changed": "The pigment carotene absorbs mostly red and blue light and reflects green.",
        "contradiction": "Chlorophyll absorbs green light and reflects red and blue.",
    },
    {
        "topic": "printing-press",
        "domain": "general",
        "question": "When did Gutenberg invent his printing press?",
        "contexts": [
            "Johannes Gutenberg, a goldsmith from Mainz, developed a printing press with "
            "movable metal type around 1440. His system combined a hand mould for casting "
            "letters, an oil-based ink and a screw press adapted from those used for wine "
            "and olive oil. The best-known book he printed is the Gutenberg Bible, completed "
            "around 1455, of which about 49 copies survive today. By 1500 printing presses "
            "were operating in more than 250 European cities.",
        ],
        "extractive": "Johannes Gutenberg, a goldsmith from Mainz, developed a printing press "
        "with movable metal type around 1440.",
        "paraphrase": "Around 1440 the Mainz goldsmith Johannes Gutenberg built a press that "
        "used movable metal type.",
        "synthesis": "Gutenberg developed his movable-type press around 1440 in Mainz, "
        "combining a hand mould for casting letters, oil-based ink and a screw press. About "
        "fifteen years later, around 1455, he completed the Gutenberg Bible.",
        "short": "He developed it around 1440.",
        "reworded": "In the mid-fifteenth century, about 1440, a metalworker from Mainz came "
        "up with printing from reusable cast letters.",
        "fabricated": "Gutenberg became wealthy from the invention and was made mayor of Mainz.",
        "fabricated_extra": "His first printed work was a Latin grammar used in schools.",
        "changed": "Johannes Gutenberg developed a printing press with movable metal type "
        "around 1480.",
        "contradiction": "Gutenberg's press used wooden type carved by hand rather than metal "
        "type.",
    },
    {
        "topic": "human-heart",
        "domain": "general",
        "question": "Why is the left ventricle's wall thicker?",
        "contexts": [
            "The human heart has four chambers: two upper atria and two lower ventricles. "
            "The right side pumps blood to the lungs, where it picks up oxygen, and the left "
            "side pumps the oxygen-rich blood to the rest of the body. The left ventricle has "
            "the thickest wall because it must push blood through the whole body. At rest an "
            "adult heart beats about 60 to 100 times a minute and moves roughly 5 litres of "
            "blood each minute.",
            "Heart valves keep blood flowing in one direction; the mitral valve sits between "
            "the left atrium and left ventricle.",
        ],
        "extractive": "The left ventricle has the thickest wall because it must push blood "
        "through the whole body.",
        "paraphrase": "Its wall is the thickest because it has to pump blood all the way "
        "around the body, not just to the lungs.",
        "synthesis": "The heart's right side only sends blood to the lungs, but the left side "
        "pumps oxygen-rich blood to the whole body. The left ventricle therefore has the "
        "thickest wall, since it must push blood through the entire body.",
        "short": "It has to pump blood to the whole body.",
        "reworded": "That chamber does the heaviest work, driving freshly oxygenated blood "
        "out to every part of the body, so it needs the most muscle.",
        "fabricated": "The left ventricle also produces the electrical signal that starts "
        "each heartbeat.",
        "fabricated_extra": "Athletes often have an even thicker left ventricle wall.",
        "changed": "The right ventricle has the thickest wall because it must push blood "
        "through the whole body.",
        "contradiction": "The left ventricle has the thinnest wall because it only pumps "
        "blood to the lungs.",
    },
    {
        "topic": "tides",
        "domain": "general",
        "question": "What are spring tides?",
        "contexts": [
            "Tides are caused mainly by the gravitational pull of the Moon, with a smaller "
            "contribution from the Sun. Most coasts have two high tides and two low tides "
            "about every 24 hours and 50 minutes. When the Sun, Moon and Earth are lined up, "
            "at new and full moon, the pulls combine to give spring tides with the largest "
            "range. When the Sun and Moon are at right angles, at the quarter moons, the "
            "range is smallest; these are neap tides.",
        ],
        "extractive": "When the Sun, Moon and Earth are lined up, at new and full moon, the "
        "pulls combine to give spring tides with the largest range.",
        "paraphrase": "Spring tides happen at new and full moon, when the Sun, Moon and Earth "
        "line up and their pulls add together, giving the biggest difference between high "
        "and low water.",
        "synthesis": "Tides are mainly driven by the Moon's gravity, helped a little by the "
        "Sun. At new and full moon the three bodies are aligned, their pulls combine, and the "
        "result is a spring tide with the largest range. The opposite, at the quarter moons, "
        "is the neap tide.",
        "short": "They are the tides with the largest range.",
        "reworded": "Twice a month, when the Sun and Moon line up with Earth, their pulls add "
        "up and the gap between high and low water is at its greatest.",
        "fabricated": "Spring tides get their name from the season, as they are strongest in "
        "spring.",
        "fabricated_extra": "They can raise sea levels by up to 15 metres in some bays.",
        "changed": "When the Sun, Moon and Earth are lined up, at the quarter moons, the pulls "
        "combine to give spring tides.",
        "contradiction": "Spring tides have the smallest range, because the Sun and Moon pull "
        "at right angles.",
    },
]


def _decorate(answer: str, pair_id: str) -> str:
    """Add citation markers to ~40% and a filler opener to ~25% of answers, any kind."""
    h = zlib.crc32(pair_id.encode())
    if h % 10 < 4:
        answer = re.sub(r"([.!?])(?=\s|$)", rf" [{1 + h % 2}]\1", answer)
    if (h >> 4) % 4 == 0:
        answer = f"{FILLERS[(h >> 8) % len(FILLERS)]} {answer}"
    return answer


def build() -> list[dict[str, Any]]:
    split: dict[str, str] = {}  # topic -> split, alternating within each domain
    groups: dict[str, list[dict[str, Any]]] = {}
    for p in PASSAGES:
        position = sum(1 for q in PASSAGES[: PASSAGES.index(p)] if q["domain"] == p["domain"])
        split[p["topic"]] = "train" if position % 2 == 0 else "test"
        groups.setdefault(f"{p['domain']}/{split[p['topic']]}", []).append(p)
    rows: list[dict[str, Any]] = []
    for p in PASSAGES:
        group = groups[f"{p['domain']}/{split[p['topic']]}"]
        neighbour = group[(group.index(p) + 1) % len(group)]
        answers = [(kind, p[kind], 1) for kind in GROUNDED] + [
            ("fabricated", p["fabricated"], 0),
            ("changed", p["changed"], 0),
            ("contradiction", p["contradiction"], 0),
            ("partial", f"{p['short']} {p['fabricated_extra']}", 0),
            ("unrelated", neighbour["paraphrase"], 0),
        ]
        for kind, answer, label in answers:
            pair_id = f"{p['topic']}/{kind}"
            rows.append(
                {
                    "id": pair_id,
                    "question": p["question"],
                    "contexts": p["contexts"],
                    "answer": _decorate(answer, pair_id),
                    "label": label,
                    "kind": kind,
                    "domain": p["domain"],
                    "split": split[p["topic"]],
                }
            )
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} pairs to {OUT}")


if __name__ == "__main__":
    main()
