"""Human review: answers a policy routes to a person, claimed and decided in a queue.

A :class:`ReviewPolicy` per model or knowledge base says which answers a human sees
(:func:`route`, on the servers' hot path); ``ws.reviews`` (:class:`Reviews`) holds the
queue of :class:`ReviewItem` s, the claims and the final decisions, whose approved or
edited outputs become labels. :class:`QueueHealth` is the queue's backlog and load.
"""

from prodline.review.entities import QueueHealth, ReviewItem, ReviewPolicy, route
from prodline.review.service import Reviews

__all__ = ["QueueHealth", "ReviewItem", "ReviewPolicy", "Reviews", "route"]
