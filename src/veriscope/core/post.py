"""Posts: a picture with a caption (and optionally the date, place and source it claims).

A *post* is a plain dict that travels with one input (``Context.post``, ``Job.post``)::

    {"caption": str, "date": str | None, "place": str | None, "source": str | None}

This module checks what a user gives (:func:`make_post`, :func:`load_post_file`: bad input is a
:class:`PostError`, one line), splits a caption into words the way the report counts them
(:func:`words`) and turns the evidence of the post detectors into the report's ``post`` object
(:func:`summarize`). It reads no file format and imports no detector: the checks themselves are
the ``detectors/post`` family (docs/posts.md).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from pathlib import Path

from veriscope.core.errors import VeriscopeError

POST_VERSION = "post/1"
"""Version of the report's ``post`` object (docs/posts.md)."""

MAX_CAPTION_CHARS = 10_000
"""Longest caption accepted (characters). Social-network captions are far shorter (a few
thousand characters at most); a longer text is more likely a file pasted by mistake."""

MAX_FIELD_CHARS = 500
"""Longest claimed place or source accepted (characters)."""

MAX_POST_FILE_BYTES = 1 << 20
"""Largest ``*.post.json`` read (bytes)."""

POST_SUFFIX = ".post.json"

POST_LABELS = ("consistent", "contradicted", "unchecked", "inconclusive")
"""``post.label``: ``contradicted`` when a fact read from the file (or the picture) contradicts
a claim; ``consistent`` when at least one claim was checked and none is contradicted;
``unchecked`` when no claim could be checked (never read as consistent); ``inconclusive`` when
a check failed to run and nothing is contradicted."""

CLAIM_STATUSES = ("consistent", "contradicted", "unchecked")

OPINION_DETECTORS = ("caption_vlm",)
"""Post detectors whose output is an opinion (a vision-language model's), listed in
``post.opinions`` and never used for the label, the score or the DGM4 fields; their failure does
not make a post inconclusive."""


class PostError(VeriscopeError):
    """A caption, claimed field or post file that cannot be used."""


def _is_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    ctrl = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn")
               and ch not in "\n\r\t")
    return ctrl > max(2, len(text) // 20)


def check_text(text, what: str, limit: int) -> str:
    """``text`` stripped, or :class:`PostError` when it is not usable text: not a string, empty,
    binary (a NUL, or more than 5 % control/unassigned characters) or longer than ``limit``."""
    if not isinstance(text, str):
        raise PostError(f"{what} must be text, not {type(text).__name__}")
    t = unicodedata.normalize("NFC", text).strip()
    if not t:
        raise PostError(f"{what} is empty")
    if _is_binary(t):
        raise PostError(f"{what} looks binary (NUL or control characters), not text")
    if len(t) > limit:
        raise PostError(f"{what} is {len(t)} characters long; at most {limit} are accepted")
    return t


_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def check_date(text, what: str = "claimed date") -> str:
    """An ISO date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``), else :class:`PostError`."""
    t = check_text(text, what, 40)
    m = _ISO_DATE.match(t)
    if not m:
        raise PostError(f"{what} {t!r} is not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)")
    y, mo, d = int(m[1]), int(m[2] or 1), int(m[3] or 1)
    try:
        _dt.date(y, mo, d)
    except ValueError:
        raise PostError(f"{what} {t!r} is not a calendar date") from None
    return t


def make_post(caption, *, date=None, place=None, source=None) -> dict:
    """A checked post dict (see the module docstring); raises :class:`PostError`."""
    post = {"caption": check_text(caption, "caption", MAX_CAPTION_CHARS), "date": None,
            "place": None, "source": None}
    if date is not None:
        post["date"] = check_date(date)
    if place is not None:
        post["place"] = check_text(place, "claimed place", MAX_FIELD_CHARS)
    if source is not None:
        post["source"] = check_text(source, "source", MAX_FIELD_CHARS)
    return post


def is_post_file(path) -> bool:
    return str(path).lower().endswith(POST_SUFFIX)


_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://|^www\.", re.ASCII)


def load_post_file(path) -> tuple[Path, dict]:
    """Read a ``*.post.json`` file: ``{"image": path relative to the file, "caption": ...,
    "date"?, "place"?, "source"?}``. Returns (the picture's path, the post dict); raises
    :class:`PostError` (one line, naming the file) for anything else, a URL in ``image``
    included: nothing is downloaded."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_POST_FILE_BYTES:
            raise PostError(f"{p}: post file is {size} bytes; at most {MAX_POST_FILE_BYTES} are read")
        raw = p.read_bytes()
    except OSError as e:
        raise PostError(f"{p}: cannot read the post file ({e.strerror or e})") from None
    try:
        d = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise PostError(f"{p}: not a JSON post file ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(d, dict):
        raise PostError(f"{p}: a post file holds a JSON object, not {type(d).__name__}")
    unknown = sorted(set(d) - {"image", "caption", "date", "place", "source"})
    if unknown:
        raise PostError(f"{p}: unknown field(s) {', '.join(unknown)} (image, caption, date, "
                        "place, source are read)")
    image = d.get("image")
    if not isinstance(image, str) or not image.strip():
        raise PostError(f"{p}: \"image\" must be the path of the picture, relative to the post file")
    if _URL.match(image.strip()):
        raise PostError(f"{p}: \"image\" is a URL; give the path of a downloaded copy "
                        "(veriscope downloads nothing)")
    if "caption" not in d:
        raise PostError(f"{p}: \"caption\" is missing")
    try:
        post = make_post(d["caption"], date=d.get("date"), place=d.get("place"),
                         source=d.get("source"))
    except PostError as e:
        raise PostError(f"{p}: {e}") from None
    img = Path(image.strip())
    if not img.is_absolute():
        img = p.parent / img
    return img, post


# ------------------------------------------------------------------ words and the summary
_WORD = re.compile(r"\S+")


def words(caption: str) -> list[tuple[int, int]]:
    """Character spans of the caption's words: runs of non-space characters, numbered from 0
    (the positions of ``fake_text_pos``, as DGM4 counts the words of ``caption.split()``)."""
    return [(m.start(), m.end()) for m in _WORD.finditer(caption)]


def word_indices(caption: str, start: int, end: int) -> list[int]:
    """Indices of the words that overlap characters ``start:end`` of ``caption``."""
    return [i for i, (a, b) in enumerate(words(caption)) if a < end and b > start]


_CLS_ORDER = ("text_swap", "text_attribute", "image_manipulated", "image_synthetic")


def summarize(post: dict, post_evidence: list, image_evidence: list, image_label: str | None) -> dict:
    """The report's ``post`` object from the post detectors' evidence (docs/posts.md).

    Each post detector lists its claims in ``data["claims"]`` (``kind``, ``text``, ``start``,
    ``end``, ``words``, ``source``, ``status``, ``why``, ``fact``, ``score``). A claim checked by
    several detectors is contradicted when one contradicts it; consistent when one agrees and
    none contradicts; otherwise unchecked."""
    caption = post["caption"]
    merged: dict[tuple, dict] = {}
    failed, ran, opinions, opinion_errors = [], [], [], []
    for e in post_evidence:
        if not e.applicable:
            continue
        if e.name in OPINION_DETECTORS:
            if e.error:
                opinion_errors.append(f"{e.name}: {e.error}")
            else:
                opinions.extend({"detector": e.name, "model": e.data.get("model"), **o}
                                for o in e.data.get("opinions", []))
            continue
        if e.error:
            failed.append(e.name)
            continue
        ran.append(e.name)
        for c in e.data.get("claims", []):
            key = (c["kind"], c.get("source", "caption"), c.get("start"), c.get("end"))
            m = merged.setdefault(key, {**{k: c.get(k) for k in (
                "kind", "text", "start", "end", "words", "source")}, "status": "unchecked",
                "checks": [], "score": None})
            m["checks"].append({"detector": e.name, "status": c["status"], "why": c.get("why", ""),
                                "fact": c.get("fact"), "score": c.get("score"),
                                "words": c.get("words") if c["status"] == "contradicted"
                                else None})
    for m in merged.values():
        st = [c["status"] for c in m["checks"]]
        m["status"] = ("contradicted" if "contradicted" in st
                       else "consistent" if "consistent" in st else "unchecked")
        scores = [c["score"] for c in m["checks"] if c["score"] is not None
                  and c["status"] != "unchecked"]
        m["score"] = max(scores) if scores else None
    claims = sorted(merged.values(), key=lambda c: (c["start"] is None, c["start"] or 0, c["kind"]))
    contradicted = [c for c in claims if c["status"] == "contradicted"]
    checked = [c for c in claims if c["status"] != "unchecked"]
    if contradicted:
        label = "contradicted"
    elif failed:
        label = "inconclusive"
    elif checked:
        label = "consistent"
    else:
        label = "unchecked"
    scores = [c["score"] for c in checked if c["score"] is not None]
    score = max(scores) if scores else None
    pos = sorted({i for c in contradicted if c.get("source") == "caption"
                  for ch in c["checks"] if ch["status"] == "contradicted"
                  for i in (ch["words"] if ch["words"] is not None else c["words"] or [])})
    boxes = []
    for e in image_evidence:
        if (e.applicable and not e.error and e.score is not None and e.score >= 0.5
                and e.label in ("manipulated", "synthetic")):
            boxes.extend([int(b.x), int(b.y), int(b.x + b.w), int(b.y + b.h)] for b in e.boxes)
    cls = set()
    if any(c.get("source") == "caption" for c in contradicted):
        cls.add("text_attribute")
    if any(ch["detector"] == "caption_archive" and ch["status"] == "contradicted"
           for c in contradicted for ch in c["checks"]):
        cls.add("text_swap")  # the picture belongs to an earlier appearance: out of context
    if image_label == "manipulated":
        cls.add("image_manipulated")
    elif image_label == "synthetic":
        cls.add("image_synthetic")
    fake_cls = [c for c in _CLS_ORDER if c in cls] or ["orig"]
    for o in opinions:  # what the evidence says about the same words
        st = {c["status"] for c in claims if c.get("source") == "caption" and c["start"] is not None
              and c["start"] < o["end"] and c["end"] > o["start"]}
        o["evidence_status"] = ("contradicted" if "contradicted" in st else "consistent"
                                if "consistent" in st else "unchecked" if st else None)
    summary = _summary(label, claims, failed)
    return {"version": POST_VERSION, "caption": caption, "date": post.get("date"),
            "place": post.get("place"), "source": post.get("source"), "label": label,
            "score": score, "summary": summary, "claims": claims,
            "checked_by": ran, "failed": failed,
            "words": [[a, b] for a, b in words(caption)],
            "fake_cls": fake_cls, "fake_image_box": boxes, "fake_text_pos": pos,
            "opinions": opinions, "opinion_errors": opinion_errors}


def _summary(label: str, claims: list, failed: list) -> str:
    n = len(claims)
    nc = sum(c["status"] == "contradicted" for c in claims)
    nu = sum(c["status"] == "unchecked" for c in claims)
    if label == "contradicted":
        first = next(c for c in claims if c["status"] == "contradicted")
        why = next(ch["why"] for ch in first["checks"] if ch["status"] == "contradicted")
        return (f"The caption is contradicted: {nc} of {n} claim(s) disagree with the file's own "
                f"facts. First: \u201c{first['text']}\u201d: {why}")
    if label == "inconclusive":
        return (f"No conclusion: the check(s) {', '.join(failed)} failed to run; nothing checked "
                "contradicts the caption.")
    if label == "consistent":
        return (f"{n - nu} of {n} claim(s) of the caption agree with the file's own facts and none "
                f"is contradicted ({nu} could not be checked). This does not prove the caption "
                "true: the facts read (capture date, GPS) can be wrong or edited.")
    if not n:
        return ("Nothing in the caption could be checked: no date, place or count was recognised "
                "(captions in scripts or phrasings the parsers do not read stay unchecked).")
    return (f"None of the {n} claim(s) could be checked (the file carries no capture date or GPS, "
            "or the claim is not precise enough). Unchecked is not consistent.")
