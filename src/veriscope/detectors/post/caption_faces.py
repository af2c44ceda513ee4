"""caption_faces: the counts of people in a caption against the faces found in the picture.

"Two men", "a woman", "a crowd of 12", "hundreds of protesters" (:func:`claims.count_claims`)
are compared with the frontal faces dlib's HOG detector finds in the picture (the detector of
:mod:`veriscope.signals.faces`, the one the video ``faces`` detector tracks with; that detector
applies to videos only, so a still picture has no face evidence to reuse and the faces are
found here, once per picture, and cached on the :class:`Media`). What a face count can prove is
lopsided, and the rules say so (docs/posts.md; fixed before any measurement, not fitted):

- **fewer faces than claimed is never a contradiction**: people seen from behind, in profile,
  far away, small, covered or in a crowd have no face the detector finds. Such a claim is
  *unchecked* ("not confirmed").
- **more faces than claimed** contradicts the count only when the counts differ clearly: the
  *prominent* faces (at least :data:`PROMINENT_FRACTION` of the largest face's width, so that
  passers-by in the background do not count) number at least
  ``max(CONTRA_FACTOR * claimed, claimed + CONTRA_MARGIN)``. Between the two the claim is
  unchecked (a poster, a screen, a reflection or a bystander can add a face).
- **consistent** when the prominent faces equal the claimed number (an exact count) or reach
  the least number an open count allows ("more than 5", "a crowd"): the faces agree with the
  count, which says nothing about who the people are.
- **vague counts** ("hundreds of protesters", "a crowd") with at most :data:`HINT_MAX_FACES`
  faces: unchecked, with a *low* finding (a weak hint: a crowd filmed from behind or from
  afar shows no faces).
- counts of people the picture need not show ("five killed", "two men were arrested") are
  listed, never compared.

Each face found is a box of the evidence; a contradicted claim names the counts and the boxes.
"""

from __future__ import annotations

import re
import threading

from veriscope.core.evidence import Box, Evidence, Token
from veriscope.core.media import Media
from veriscope.detectors.base import Context, working_rgb
from veriscope.detectors.post.base import CaptionCheck

FACE_PIXELS = 1_500_000
"""The picture is searched at up to 1.5 MP, upsampled once by the detector (faces down to
about 40 pixels at that size are found)."""
PROMINENT_FRACTION = 0.5
"""A face counts as prominent when its box is at least this fraction of the widest face's."""
CONTRA_FACTOR = 2
CONTRA_MARGIN = 2
"""A count of ``n`` people is contradicted when the prominent faces number at least
``max(CONTRA_FACTOR * n, n + CONTRA_MARGIN)`` (1 -> 3, 2 -> 4, 3 -> 6, 10 -> 20)."""
HINT_MAX_FACES = 2
"""A vague count of many people ("hundreds", "a crowd") with at most this many faces gets a
low finding (a hint), never a contradiction."""
CONTRA_SCORE = 0.6
"""Score of a contradicted count (the lowest of the post checks: a face count is a weaker fact
than a capture date)."""

_DET = None
_DET_LOCK = threading.Lock()


def find_faces(media: Media) -> list[dict]:
    """Frontal faces in the picture: ``box`` [x, y, w, h] in input pixels and the detector's
    ``score``, widest first (cached on ``media``)."""
    cache = media.__dict__.setdefault("_still_faces", {})
    if FACE_PIXELS in cache:
        return cache[FACE_PIXELS]
    import cv2
    import numpy as np

    from veriscope.signals.faces import available

    why = available()
    if why:
        raise RuntimeError(why)
    import dlib

    global _DET
    rgb, scale = working_rgb(media, FACE_PIXELS)
    gray = np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
    with _DET_LOCK:  # dlib's detector object is not documented as thread-safe
        if _DET is None:
            _DET = dlib.get_frontal_face_detector()
        rects, scores, _ = _DET.run(gray, 1, 0.0)
    faces = []
    h, w = gray.shape
    for r, s in zip(rects, scores, strict=False):
        x0, y0 = max(0, r.left()), max(0, r.top())
        x1, y1 = min(w, r.right()), min(h, r.bottom())
        if x1 <= x0 or y1 <= y0:
            continue
        faces.append({"box": [int(x0 / scale), int(y0 / scale), int(round((x1 - x0) / scale)),
                              int(round((y1 - y0) / scale))], "score": round(float(s), 3)})
    faces.sort(key=lambda f: -f["box"][2])
    cache[FACE_PIXELS] = faces
    return faces


def prominent(faces: list[dict]) -> list[dict]:
    if not faces:
        return []
    widest = max(f["box"][2] for f in faces)
    return [f for f in faces if f["box"][2] >= PROMINENT_FRACTION * widest]


def contradiction_bar(n: int) -> int:
    return max(CONTRA_FACTOR * n, n + CONTRA_MARGIN)


OTHERS = re.compile(r"\b(?:others|crowds?|family|friends|team|group|police|onlookers|bystanders|"
                    r"passers-by|audience|colleagues|relatives|guests|fans|supporters|people|"
                    r"protesters|demonstrators|soldiers|officers|students|workers|children|kids|"
                    r"players|tourists|residents|journalists|reporters|members|staff|"
                    r"spectators|volunteers|men|women|boys|girls)\b", re.I)
"""People named without a number ("a man takes a selfie with fans"): the caption's counts are
then not everyone in the picture, and more faces contradict nothing."""


def check_counts(claims: list[dict], faces: list[dict], caption: str) -> list[dict]:
    """Status of each count claim against the faces found (rules in the module docstring).

    The exact counts of people the picture should show are added up ("two men and a woman" is
    three people) and compared together; a caption that also names people without a number,
    or counts some vaguely or openly, has counts that need not cover everyone shown."""
    big = prominent(faces)
    nf, nb = len(faces), len(big)
    fact = {"faces": nf, "prominent_faces": nb, "boxes": [f["box"] for f in big]}
    said = f"{nf} face(s) found" + (f", {nb} of them prominent" if nb != nf else "")
    seen = [c for c in claims if c["value"].get("visible", True)]
    bounded = [c for c in seen if c["value"].get("max") is not None]
    total = sum(int(c["value"]["max"]) for c in bounded)
    spans = [(c["start"], c["end"]) for c in claims]
    others = [m[0] for m in OTHERS.finditer(caption)
              if not any(a <= m.start() < b for a, b in spans)]
    complete = bool(bounded) and len(bounded) == len(seen) and not others
    what = (f"the {total} people the caption counts" if len(bounded) > 1
            else f"the {total} claimed")
    out = []
    for c in claims:
        v = c["value"]
        lo, hi = int(v["min"]), v.get("max")
        if not v.get("visible", True):
            r = {"status": "unchecked", "why": f"the people counted ({v['noun']}) need not be in "
                 f"the picture; {said}"}
        elif hi is not None and complete and nb >= contradiction_bar(total):
            r = {"status": "contradicted", "score": CONTRA_SCORE,
                 "why": f"the picture shows {nb} prominent faces (at {_boxes(big)}), far more than "
                        f"{what}"}
        elif hi is not None and complete and nb == total:
            r = {"status": "consistent", "score": 0.0,
                 "why": f"{said}, as many as {what} (who they are is not checked)"}
        elif hi is None and not v.get("vague") and nb >= lo:
            r = {"status": "consistent", "score": 0.0,
                 "why": f"{said}, at least the {lo} the caption allows (who they are is not "
                        "checked)"}
        elif hi is not None and nb > total:
            why = (f"the caption also names people without a number ({others[0]})" if others
                   else "the caption counts some people without an exact number" if not complete
                   else "people in the background, a poster or a screen can add faces; "
                        f"{contradiction_bar(total)} prominent faces would contradict it")
            r = {"status": "unchecked",
                 "why": f"{said}: more than {what}, but that proves nothing: {why}"}
        elif v.get("vague") and nf <= HINT_MAX_FACES:
            r = {"status": "unchecked", "hint": True,
                 "why": f"only {nf} face(s) found for a count of many people: a weak hint, not a "
                        "contradiction (a crowd seen from behind or from afar shows no faces)"}
        elif v.get("vague"):
            r = {"status": "unchecked", "why": f"{said}; a vague count of many people is not "
                 "checked against faces"}
        elif hi is not None and nb == hi:
            r = {"status": "unchecked", "why": f"{said}, as many as this count, but the caption "
                 "counts other people too: not compared alone"}
        else:
            r = {"status": "unchecked",
                 "why": f"not confirmed: {said}, fewer than the {lo} claimed; people seen from "
                        "behind, in profile, small or in a crowd have no face the detector finds, "
                        "so fewer faces never contradict a count"}
        r["fact"] = {**fact, "counted": total if c in bounded else None}
        out.append(r)
    return out


def _boxes(faces: list[dict], most: int = 6) -> str:
    s = ", ".join(f"[{x}, {y}, {w}, {h}]" for x, y, w, h in (f["box"] for f in faces[:most]))
    return s + (f" and {len(faces) - most} more" if len(faces) > most else "")


class CaptionFacesDetector(CaptionCheck):
    name = "caption_faces"
    version = "1"
    requires = ("dlib", "face_recognition_models")
    summary = "Caption of a post: counts of people vs the faces found in the picture"
    looks_at = ("The counts of people in the caption (\u201ctwo men\u201d, \u201ca crowd of 12\u201d, "
                "\u201chundreds of protesters\u201d), compared with the frontal faces dlib's HOG "
                "detector finds in the picture.")
    cannot_tell = ("Who the people are, and anyone whose face it does not find: people seen from "
                   "behind, in profile, far away or covered. Fewer faces than claimed therefore "
                   "never contradicts a count; more faces contradict it only when there are at "
                   "least twice as many prominent faces (and two more) than claimed.")
    how_to_read = ("The boxes are the faces found; a contradicted count names how many prominent "
                   "faces the picture shows and where.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.detectors.post.claims import claim_record, count_claims

        if (na := self.no_caption(ctx)) is not None:
            return na
        post = ctx.post
        claims = count_claims(post["caption"])
        if not claims:
            return Evidence.not_applicable(self.name, self.version,
                                           "the caption counts no people")
        try:
            faces = find_faces(media)
        except RuntimeError as e:
            return Evidence.not_applicable(self.name, self.version, str(e))
        ev = self.evidence()
        big = {id(f) for f in prominent(faces)}
        ev.boxes = [Box(*f["box"], score=None,
                        label="face (prominent)" if id(f) in big else "face") for f in faces]
        out = []
        for c, r in zip(claims, check_counts(claims, faces, post["caption"]), strict=True):
            hint = r.pop("hint", False)
            r.setdefault("score", None)
            cl = claim_record(c, dict(c["value"]), **r)
            if r["status"] == "contradicted":
                cl["words"] = list(c["words"])
                ev.tokens.append(Token(c["start"], c["end"], c["text"], score=r["score"],
                                       label="contradicted"))
                ev.add("medium", "post.count_contradicted",
                       f"\u201c{c['text']}\u201d: {r['why']}", claim=c["text"], words=c["words"],
                       fact=r["fact"])
            elif r["status"] == "consistent":
                ev.add("info", "post.count_consistent", f"\u201c{c['text']}\u201d: {r['why']}",
                       claim=c["text"], fact=r["fact"])
            elif hint:
                ev.add("low", "post.count_hint", f"\u201c{c['text']}\u201d: {r['why']}",
                       claim=c["text"], fact=r["fact"])
            out.append(cl)
        scored = [c["score"] for c in out if c["status"] != "unchecked" and c["score"] is not None]
        ev.score = max(scored) if scored else None
        ev.data.update(claims=out, faces=faces, method="dlib HOG frontal face detector "
                       f"(upsampled once, picture at up to {FACE_PIXELS / 1e6:g} MP)")
        ev.add("info", "post.faces_found",
               f"{len(faces)} face(s) found in the picture, {len(big)} prominent (at least "
               f"{PROMINENT_FRACTION:.0%} of the widest face)"
               + (f": {_boxes([f for f in faces if id(f) in big])}" if big else "."))
        return ev

