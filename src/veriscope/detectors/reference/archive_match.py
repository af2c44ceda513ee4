"""``archive_match``: has this picture (or an earlier version of it) been seen before?

Runs when a reference archive is configured (``veriscope analyze --archive PATH``, option
``archive_match.archive``, or env ``VERISCOPE_ARCHIVE``); otherwise it does not apply. It looks
the picture up in the archive (``veriscope.archive.search``): verified matches (same shot,
by local features and a fitted transform), each with its date and source, the difference map
against the best one (``maps/archive_match.png``), the archived version registered onto the
input (a view, to compare side by side), and which version is likely the earlier.

Score: a verified earlier version (by date, or by containing more of the scene at more pixels)
that differs in a region gives 0.6-0.9 (``manipulated``); a verified match that differs but
whose order is unclear gives 0.45 (a finding, no headline); a match without differences gives
0.05 (it agrees with an archived version); no match gives no score. An earlier appearance is a
fact for the person (and for posts: an old picture), not a sign of editing.
"""

from __future__ import annotations

import os

import numpy as np

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector


class ArchiveMatchDetector(Detector):
    name = "archive_match"
    version = "0.1.0"
    modalities = ("image",)
    requires = ("faiss", "imagehash")
    localizes = True
    summary = "Earlier versions of the picture in a local reference archive, and what changed"
    looks_at = ("Pictures and video keyframes you indexed (veriscope index): the same shot found "
                "by local features, registered onto this picture and compared.")
    cannot_tell = ("Anything about pictures that are not in your archive. Which version came "
                   "first is a tendency (copies are cropped, shrunk, re-encoded) unless dates "
                   "are known. A difference is an edit in one of the two versions.")
    how_to_read = ("Bright where this picture differs from the archived version after aligning "
                   "the two and matching their colours; re-encoding and resizing stay dark.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.archive.store import open_configured

        archive = open_configured(ctx.opts(self.name).get("archive")
                                  or os.environ.get("VERISCOPE_ARCHIVE"))
        if isinstance(archive, str):
            return Evidence.not_applicable(self.name, self.version, archive)
        from veriscope.archive.search import match, media_query
        q = media_query(media, date=_exif_date(media))
        top = int(ctx.opts(self.name).get("top", 5))
        matches = match(archive, q, top=top)
        # reported: verified matches that the full-size comparison kept (the best three are
        # compared; one whose file is gone stays, with its note)
        verified = [m for m in matches if m.verified
                    and (m.changed_fraction is not None or m.note)]
        ev = self.evidence(score=None, label=None)
        n_items = archive.count()
        ev.data["archive"] = {"path": str(archive.root), "items": n_items}
        ev.data["matches"] = [m.to_dict() for m in verified]
        if not verified:
            ev.add("info", "archive_no_match",
                   f"No earlier version of this picture in the archive "
                   f"({n_items} indexed pictures and keyframes).")
            return ev
        for m in verified:
            it = m.item
            when = f"indexed {it['indexed'][:10]}" + (f", dated {it['date'][:10]}" if it.get("date")
                                                       else "")
            src = f" from {it['source']}" if it.get("source") else ""
            at = f" (frame at {it['t']:.2f} s)" if it["kind"] == "keyframe" else ""
            ev.add("info", "archive_match",
                   f"Seen before: {os.path.basename(it['path'])}{at} ({when}{src}), same shot "
                   f"({m.verification.inliers} matching points"
                   + (", mirrored" if m.verification.mirrored else "") + ").",
                   item=it["id"], path=it["path"], sha256=it["sha256"], date=it.get("date"),
                   source=it.get("source"), caption=it.get("caption"))
        best = next((m for m in verified if m.diff is not None), None)
        if best is None:
            ev.add("info", "archive_no_map", verified[0].note or "no difference map")
            return ev
        ev.heatmap = best.diff
        ev.views["archived_version"] = best.warped
        regions = best.regions
        name = os.path.basename(best.item["path"])
        if not regions:
            ev.add("info", "archive_same",
                   f"The picture matches the archived version {name} apart from re-encoding, "
                   f"resizing or colour ({best.changed_fraction:.1%} of the common part differs).")
            ev.score, ev.label = 0.05, "manipulated"
            return ev
        r = regions[0]
        what = (f"{len(regions)} region(s) differ from the archived version {name}, the largest "
                f"at x={r['x']}, y={r['y']} ({r['w']}x{r['h']} px, {r['share']:.1%} of the picture)")
        if best.earlier == "archived":
            ev.score = float(np.clip(0.6 + 0.3 * min(1.0, r["strength"]), 0.6, 0.9))
            ev.label = "manipulated"
            ev.add("high", "archive_earlier_differs",
                   f"An earlier version exists without this change: {what}. Earlier because "
                   + "; ".join(best.earlier_reasons) + ".", regions=regions)
            ev.data["reliability"] = {"level": "medium", "why": "which version is earlier is "
                                      "inferred (" + "; ".join(best.earlier_reasons) + ")"}
        else:
            ev.score, ev.label = 0.45, "manipulated"
            order = ("this picture looks like the earlier one: " + "; ".join(best.earlier_reasons)
                     if best.earlier == "query" else "which one came first is unclear")
            ev.add("medium", "archive_differs", f"{what}; {order}.", regions=regions)
            ev.data["reliability"] = {"level": "low", "why": "the order of the two versions "
                                      "is not established"}
        return ev


def _exif_date(media: Media) -> str | None:
    from veriscope.archive.build import capture_date

    return capture_date(media)
