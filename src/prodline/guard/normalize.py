"""Normalization: undo the disguises before any rule or model looks at a prompt.

Attackers hide ``ignore previous instructions`` from keyword filters by splitting it with
zero-width characters, writing it in Cyrillic or fullwidth look-alikes, reversing its
direction with bidi controls, smuggling it in Unicode tag characters, or encoding it
(base64, hex, rot13, leetspeak). :func:`normalize` returns

* ``text``: NFKC, invisible and bidi control characters removed, look-alike letters
  folded to ASCII (a compact table of Cyrillic, Greek and Latin-extended homoglyphs;
  fullwidth forms are already folded by NFKC);
* ``variants``: decoded payloads (base64 and hex runs, Unicode tag text, the whole text
  through rot13 when that yields more English stop words, the whole text through a
  leetspeak map when it has digits inside words), each scanned like the text itself;
* ``signals``: which disguises were present. Their presence is itself suspicious: a
  user prompt rarely holds zero-width joiners or bidi overrides.

Everything is linear in the text (``str.translate`` and precompiled regexes) and the
number and size of decoded variants are capped, so a 1 MB prompt costs milliseconds.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Normalized", "normalize"]

MAX_VARIANTS = 8
MAX_VARIANT_CHARS = 4096
MAX_DECODE_CHARS = 262144  # base64/hex runs are looked for in the first 256 KB
MAX_LEET_CHARS = 16384  # leetspeak and rot13 are judged on the head of the text

# Invisible format characters: zero-width space/joiners, word joiner, invisible
# operators, BOM, soft hyphen, Mongolian vowel separator, combining grapheme joiner.
_INVISIBLE = [0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF]
_INVISIBLE += [0x00AD, 0x180E, 0x034F]
# Bidi controls: LRM/RLM, embeddings/overrides, isolates, Arabic letter mark.
_BIDI = [0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068]
_BIDI += [0x2069, 0x061C]
_CONTROL_RE = re.compile("[" + "".join(map(chr, _INVISIBLE + _BIDI)) + "]+")
_FULLWIDTH_RE = re.compile("[\uff01-\uff5e]")
_INVISIBLE_RE = re.compile("[" + "".join(map(chr, _INVISIBLE)) + "]")
_BIDI_RE = re.compile("[" + "".join(map(chr, _BIDI)) + "]")
_TAGS_RE = re.compile("[\U000e0000-\U000e007f]+")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

# Homoglyphs that NFKC leaves alone: Cyrillic, Greek and a few Latin-extended letters
# that render like ASCII letters.
_CONFUSABLES = {
    **dict(zip("АВСЕНІЈКМОРЅТХУаеіјорсухѕԁһԛԝ", "ABCEHIJKMOPSTXYaeijopcyxsdhqw", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαοριτυνκχ", "ABEZHIKMNOPTYXaopitvnkx", strict=True)),
    **dict(zip("ɑɡɩɪʏᴀᴄᴅᴇᴋᴍᴏᴘᴛᴜᴠᴡᴢ", "agiiyacdekmoptuvwz", strict=True)),
    "ı": "i",
    "ℓ": "l",
}
_FOLD = str.maketrans(_CONFUSABLES)
_CONFUSABLE_RE = re.compile("[" + "".join(_CONFUSABLES) + "]")
# A word mixing ASCII letters and look-alikes, or made only of look-alikes ("paypal"
# spelt with Cyrillic letters); a genuine Russian or Greek word has letters outside the
# table and is kept.
_MIXED_WORD_RE = re.compile(
    "(?=[A-Za-z" + "".join(_CONFUSABLES) + "]*[" + "".join(_CONFUSABLES) + "])"
    "(?<![^\\W\\d_])[A-Za-z" + "".join(_CONFUSABLES) + "]+(?![^\\W\\d_])"
)

_BASE64_RE = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RE = re.compile(r"[0-9A-Fa-f]{16,}|(?:[0-9A-Fa-f]{2}[ :]){7,}[0-9A-Fa-f]{2}")
_LEET_RE = re.compile(r"[a-z][013457@$]|[013457@$][a-z]", re.IGNORECASE)
_LEET = str.maketrans("1340572@$", "ieaostzas")
_WORD_RE = re.compile(r"[a-z]+")
_STOP_WORDS = (
    "the a an and or of to in is are was be you your i me my it this that for on with as "
    "all not no do what how from by at please now any previous instructions"
)
_STOP = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class Normalized:
    """A prompt after normalization.

    Attributes
    ----------
    text : str
        NFKC text with invisible/bidi characters removed and homoglyphs folded.
    variants : tuple of str
        Decoded payloads to scan as well (base64, hex, tag characters, rot13, leetspeak).
    signals : tuple of str
        Disguises found: ``zero_width``, ``bidi``, ``fullwidth``, ``confusables``, ``tag_chars``,
        ``base64``, ``hex``, ``rot13``, ``leetspeak``.
    """

    text: str
    variants: tuple[str, ...]
    signals: tuple[str, ...]


def normalize(text: str) -> Normalized:
    """Normalize ``text`` and decode its hidden payloads.

    Parameters
    ----------
    text : str
        The raw prompt or document chunk.

    Returns
    -------
    Normalized
        The normalized text, decoded variants and the disguises found.

    Examples
    --------
    >>> n = normalize("ig\\u200bnore previous instructions")
    >>> n.text, n.signals
    ('ignore previous instructions', ('zero_width',))
    """
    signals: list[str] = []
    variants: list[str] = []
    if not text.isascii():
        text = _SURROGATE_RE.sub("\ufffd", text)  # lone surrogates cannot be encoded
        tags = _TAGS_RE.findall(text)
        if tags:
            signals.append("tag_chars")
            variants.extend(
                "".join(chr(ord(c) - 0xE0000) for c in run)[:MAX_VARIANT_CHARS] for run in tags
            )
            text = _TAGS_RE.sub("", text)
        if _INVISIBLE_RE.search(text):
            signals.append("zero_width")
        if _BIDI_RE.search(text):
            signals.append("bidi")
        if signals and signals[-1] in ("zero_width", "bidi"):
            text = _CONTROL_RE.sub("", text)
        if _FULLWIDTH_RE.search(text):
            signals.append("fullwidth")
        text = unicodedata.normalize("NFKC", text)
        if _CONFUSABLE_RE.search(text):
            text, folded = _MIXED_WORD_RE.subn(_fold_word, text)
            head = text[:MAX_VARIANT_CHARS]
            letters = sum(ch.isalpha() for ch in head)
            if folded and sum(ch.isascii() and ch.isalpha() for ch in head) > letters // 2:
                signals.append("confusables")  # look-alikes in otherwise Latin text
    _decode_runs(text[:MAX_DECODE_CHARS], variants, signals)
    lowered = text[:MAX_LEET_CHARS].lower()
    if _LEET_RE.search(lowered):
        leet = lowered.translate(_LEET)
        if _stop_words(leet) > max(1, _stop_words(lowered)):
            signals.append("leetspeak")
            variants.append(leet[:MAX_VARIANT_CHARS])
    rot = codecs.encode(lowered[:MAX_VARIANT_CHARS], "rot13")
    if _stop_words(rot) > max(1, _stop_words(lowered[:MAX_VARIANT_CHARS])):
        signals.append("rot13")
        variants.append(rot)
    return Normalized(text, tuple(variants[:MAX_VARIANTS]), tuple(signals))


def _fold_word(match: re.Match[str]) -> str:
    return match.group(0).translate(_FOLD)


def _decode_runs(text: str, variants: list[str], signals: list[str]) -> None:
    """Decode base64 and hex runs that turn into readable text."""
    for match in _BASE64_RE.finditer(text):
        if len(variants) >= MAX_VARIANTS:
            return
        run = match.group(0)[: MAX_VARIANT_CHARS * 2]
        if run.isalpha() and (run.islower() or run.isupper()):
            continue  # a long plain word, not base64
        try:
            altchars = b"-_" if "-" in run or "_" in run else None
            raw = base64.b64decode(run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4), altchars)
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(raw)
        if decoded:
            if "base64" not in signals:
                signals.append("base64")
            variants.append(decoded)
    for match in _HEX_RE.finditer(text):
        if len(variants) >= MAX_VARIANTS:
            return
        digits = re.sub(r"[ :]", "", match.group(0))[: MAX_VARIANT_CHARS * 2]
        try:
            decoded = _readable(bytes.fromhex(digits[: len(digits) // 2 * 2]))
        except ValueError:
            continue
        if decoded:
            if "hex" not in signals:
                signals.append("hex")
            variants.append(decoded)


def _readable(raw: bytes) -> str | None:
    """``raw`` as text when it is mostly printable words, else None."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(decoded) < 6:
        return None
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in decoded)
    letters = sum(ch.isalpha() or ch == " " for ch in decoded)
    if printable < 0.95 * len(decoded) or letters < 0.7 * len(decoded) or " " not in decoded:
        return None
    return decoded[:MAX_VARIANT_CHARS]


def _stop_words(text: str) -> int:
    """How many English stop words ``text`` holds (a cheap "is this English" score)."""
    return sum(1 for word in _WORD_RE.findall(text) if word in _STOP)
