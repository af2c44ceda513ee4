"""Finding earlier versions of a picture in an archive.

1. Candidates: items whose pHash (or their mirror's) is within 12 bits of the query's, and
   items that many of the query's local descriptors (and its mirror image's) find among their
   nearest neighbours in the faiss index (votes).
2. Verification: local features matched and a similarity transform fitted with RANSAC
   (``signals.fingerprint.verify``), then the two thumbnails aligned with that transform must
   agree (``signals.fingerprint.confirm``): a candidate is *verified* with at least
   ``MIN_INLIERS`` consistent matches and a photometric agreement of ``MIN_AGREEMENT``.
   Perceptual-hash closeness alone never verifies.
3. For the best verified matches: the archived picture is read again from its path, warped
   onto the query, and compared (the difference map, regions that differ), and the evidence on
   which version came first is weighed (field of view, resolution of the common part, dates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from veriscope.archive.store import Archive
from veriscope.signals import fingerprint as F

HASH_DIST = 12
VOTE_DIST = 64
MAX_VERIFY = 40
MAP_SIDE = 1024
"""Long side of a difference map (the query's size, capped here)."""
NN_K = 10
"""Nearest neighbours looked up per query descriptor (the votes of step 1). Versions of one
picture (edits, crops, re-saves) share their descriptors and fill these places in turn: in an
archive holding 12 versions of each picture, the query's own version was missing from the 10
results of 13 of 60 FIT UI screenshots with 5, of 6 with 10, and of 9 with 16, where unrelated
items gather more votes (benchmarks/archive_versions_fit.py, docs/archive.md)."""
DIFF_BAR = 0.5
NOT_SAME = 0.5
"""Share of the common part that may differ before a verified match is withdrawn."""
MIN_REGION = 0.002
"""Smallest differing region reported, as a share of the query's pixels."""


@dataclass
class Match:
    item: dict
    votes: int = 0
    hash_distance: int | None = None
    verification: F.Verification | None = None
    score: float = 0.0
    changed_fraction: float | None = None
    regions: list[dict] = field(default_factory=list)
    coverage: dict = field(default_factory=dict)
    earlier: str = "unknown"
    earlier_reasons: list[str] = field(default_factory=list)
    note: str | None = None
    diff: np.ndarray | None = field(default=None, repr=False)
    warped: np.ndarray | None = field(default=None, repr=False)

    @property
    def verified(self) -> bool:
        return bool(self.verification and self.verification.verified)

    def to_dict(self) -> dict:
        it = self.item
        return {"item": {k: it.get(k) for k in ("id", "sha256", "t", "path", "kind", "width",
                                                  "height", "date", "source", "caption",
                                                  "indexed")},
                "score": round(self.score, 4), "verified": self.verified, "votes": self.votes,
                "hash_distance": self.hash_distance,
                "verification": self.verification.to_dict() if self.verification else None,
                "changed_fraction": None if self.changed_fraction is None
                else round(self.changed_fraction, 5),
                "regions": self.regions, "coverage": self.coverage,
                "earlier": self.earlier, "earlier_reasons": self.earlier_reasons,
                "note": self.note}


@dataclass
class Query:
    """A picture to look up. ``inner``: the same lookup for the picture embedded in it (a
    screenshot, a page, a frame: ``signals.fingerprint.embedded_region``), whose box is
    ``inner_box`` (x0, y0, x1, y1) in this picture's pixels."""

    rgb: np.ndarray
    hashes: dict
    feats: F.Features
    feats_mirror: F.Features
    date: str | None = None
    inner: Query | None = None
    inner_box: tuple[int, int, int, int] | None = None

    @classmethod
    def from_rgb(cls, rgb: np.ndarray, date: str | None = None, *, inner: bool = True) -> Query:
        rgb = np.asarray(rgb)
        w = F.working_copy(rgb)
        q = cls(rgb, F.perceptual_hashes(rgb), F.local_features(w),
                F.local_features(np.ascontiguousarray(w[:, ::-1])), date)
        box = F.embedded_region(rgb) if inner else None
        if box is not None:
            x0, y0, x1, y1 = box
            q.inner = cls.from_rgb(np.ascontiguousarray(rgb[y0:y1, x0:x1]), date, inner=False)
            q.inner_box = box
        return q

    def lift(self, v: F.Verification) -> F.Verification:
        """A verification against :attr:`inner` expressed in this picture's coordinates
        (normalised by its long side; for a mirrored match, in the mirrored picture's)."""
        h, w = self.rgb.shape[:2]
        x0, y0, x1, y1 = self.inner_box
        lf, lc = max(h, w), max(y1 - y0, x1 - x0)
        ox = (w - x1) if v.mirrored else x0
        a = np.array([[lc / lf, 0, ox / lf], [0, lc / lf, y0 / lf], [0, 0, 1]])
        v.matrix = (a @ np.vstack([v.matrix, [0, 0, 1]]))[:2]
        v.scale = (v.scale or 0) * lc / lf
        return v


def media_query(media, date: str | None = None) -> Query:
    """The :class:`Query` of a ``Media``'s picture, computed once per Media and shared by the
    detectors that look it up (``archive_match`` and, for a post, ``caption_archive``).
    ``date`` only matters to :func:`compare` (which version is earlier): each caller gets a
    shallow copy carrying its own."""
    import copy

    cache = media.__dict__.setdefault("_archive_query", {})
    q = cache.get("query")
    if q is None:
        q = cache["query"] = Query.from_rgb(media.rgb())
    out = copy.copy(q)
    out.date = date
    return out


def candidates(archive: Archive, q: Query, limit: int = MAX_VERIFY) -> dict[int, dict]:
    """item id -> {"votes", "votes_mirror", "hash_distance", "hash_mirror"} (the embedded
    picture's candidates added in, when there is one)."""
    out = _candidates(archive, q, limit)
    if q.inner is not None:
        for iid, c in _candidates(archive, q.inner, limit).items():
            o = out.setdefault(iid, {"votes": 0, "votes_mirror": 0})
            o["votes"] = max(o["votes"], c["votes"])
            o["votes_mirror"] = max(o["votes_mirror"], c["votes_mirror"])
            if c.get("hash_distance") is not None and (o.get("hash_distance") is None
                                                       or c["hash_distance"] < o["hash_distance"]):
                o["hash_distance"], o["hash_mirror"] = c["hash_distance"], c.get("hash_mirror")
        ranked = sorted(out.items(), key=lambda kv: (kv[1].get("hash_distance") is None,
                                                     -max(kv[1]["votes"], kv[1]["votes_mirror"])))
        out = dict(ranked[:limit])
    return out


def _candidates(archive: Archive, q: Query, limit: int) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for d, iid, mir in archive.hash_candidates(q.hashes, HASH_DIST):
        c = out.setdefault(iid, {"votes": 0, "votes_mirror": 0})
        if c.get("hash_distance") is None or d < c["hash_distance"]:
            c["hash_distance"], c["hash_mirror"] = d, mir
    idx, owner = archive.ann()
    if idx.ntotal:
        k = min(NN_K, idx.ntotal)
        for feats, key in ((q.feats, "votes"), (q.feats_mirror, "votes_mirror")):
            if not len(feats):
                continue
            dist, nn = idx.search(np.ascontiguousarray(feats.desc), k)
            # each descriptor votes once for every item among its close neighbours (owners
            # looked up in one pass; the rows as Python lists, far cheaper to walk than arrays)
            own = np.asarray(owner)[np.maximum(nn, 0)].tolist()
            near = ((nn >= 0) & (dist <= VOTE_DIST)).tolist()
            for orow, mrow in zip(own, near, strict=True):
                for iid in {o for o, ok in zip(orow, mrow, strict=True) if ok}:
                    out.setdefault(iid, {"votes": 0, "votes_mirror": 0})[key] += 1
    ranked = sorted(out.items(), key=lambda kv: (kv[1].get("hash_distance") is None,
                                                 -max(kv[1]["votes"], kv[1]["votes_mirror"])))
    return dict(ranked[:limit])


def match(archive: Archive, q: Query, *, top: int = 10, diff_top: int = 3,
          min_votes: int = 3) -> list[Match]:
    """Verified matches first (closest in appearance first: :func:`_rank`), then unverified
    candidates by votes."""
    cands = {i: c for i, c in candidates(archive, q).items()
             if c.get("hash_distance") is not None
             or max(c["votes"], c["votes_mirror"]) >= min_votes}
    feats = archive.features(cands)
    items = archive.items(feats)
    out = []
    for iid, c in cands.items():
        f = feats.get(iid)
        if f is None or iid not in items:
            continue
        v = _verify(q, f, c)
        if not v.verified and q.inner is not None:
            vi = _verify(q.inner, f, c)
            if vi.verified:
                v = q.lift(vi)
        m = Match(items[iid], votes=max(c["votes"], c["votes_mirror"]),
                  hash_distance=c.get("hash_distance"), verification=v)
        m.score = min(1.0, v.inliers / 50) if v.verified else 0.0
        out.append(m)
    out.sort(key=_rank)
    out = out[:top]
    for m in [m for m in out if m.verified][:diff_top]:
        compare(m, q)
    out.sort(key=_rank)  # a match withdrawn by the comparison moves down
    return out


def _rank(m: Match) -> tuple:
    """Verified matches first, the closest in appearance first: the sum of the two photometric
    agreements of the verification (an archive holding several versions of one picture verifies
    all of them with about as many points; the query's own version agrees best), then points,
    then votes. Unverified candidates by votes."""
    v = m.verification
    if not m.verified:
        return (1, 0.0, 0, -m.votes)
    return (0, -((v.agreement or 0.0) + (v.agreement_low or 0.0)), -v.inliers, -m.votes)


def _verify(q: Query, f: F.Features, c: dict) -> F.Verification:
    """The better of the query's and its mirror image's confirmed verification."""
    v = F.confirm(q.feats, f, F.verify(q.feats, f))
    if not v.verified or c["votes_mirror"] > c["votes"] or c.get("hash_mirror"):
        vm = F.verify(q.feats_mirror, f)
        vm.mirrored = True
        vm = F.confirm(q.feats_mirror, f, vm)
        if (vm.verified, vm.inliers) > (v.verified, v.inliers):
            v = vm
    return v


def load_item_rgb(item: dict, long_side: int | None = None) -> np.ndarray:
    """The archived picture's pixels, read again from where it was indexed; with ``long_side``,
    a JPEG may be decoded smaller as long as its long side keeps that many pixels
    (:meth:`Media.rgb_at_least`)."""
    from veriscope.core.media import Media, file_sha256

    p = Path(item["path"])
    if not p.is_file():
        raise FileNotFoundError(f"{p} (indexed {item['indexed']}) is no longer there")
    if file_sha256(p) != item["sha256"]:
        raise FileNotFoundError(f"{p} changed since it was indexed (SHA-256 differs)")
    media = Media.open(p)
    if item["kind"] == "image":
        return media.rgb() if long_side is None else media.rgb_at_least(long_side)
    from veriscope.core.video import frames_at

    for fr in frames_at(media, [float(item["t"])]):
        rgb = fr.rgb(max_side=1280)
        fr.release()
        return rgb
    raise FileNotFoundError(f"{p}: the frame at {item['t']} s cannot be decoded")


def compare(m: Match, q: Query) -> None:
    """Difference map, differing regions, coverage and which version is likely earlier."""
    # the archived picture is needed at the map's scale only (the map has the query's size,
    # capped at MAP_SIDE): a large archived JPEG is decoded smaller, to no fewer pixels across
    # than it spans in the map
    qh, qw = q.rgb.shape[:2]
    mat = m.verification.matrix
    span = np.sqrt(abs(np.linalg.det(mat[:, :2]))) * min(max(qh, qw), MAP_SIDE)
    try:
        c = load_item_rgb(m.item, int(np.ceil(span)))
    except (OSError, ValueError) as e:
        m.note = f"no difference map: {e}"
        return
    except Exception as e:  # a damaged archived file: the match stands without its map
        m.note = f"no difference map: the archived file cannot be read ({type(e).__name__})"
        return
    diff, overlap, warped = F.difference_map(q.rgb, c, m.verification, MAP_SIDE)
    H, W = diff.shape
    n_over = int(overlap.sum())
    m.changed_fraction = float((diff >= DIFF_BAR).sum() / max(1, n_over))
    if m.changed_fraction >= NOT_SAME:
        # the points lined up, but at full size most of the common part differs: two
        # pictures of one layout (aligned faces, products on a plain ground), not one shot
        m.verification.verified = False
        m.score = 0.0
        m.note = (f"matching points, but {m.changed_fraction:.0%} of the aligned common part "
                  "differs: a similar picture, not the same shot")
        return
    m.diff, m.warped = diff, warped
    m.regions = regions(diff, q.rgb.shape[1] / W)
    # coverage: share of the query the archived picture covers, and share of the archived
    # picture that the query shows (from the transform's area factor)
    ch, cw = c.shape[:2]
    # the file's own pixels per decoded pixel (a JPEG decoded smaller, above), for its pixel count
    k = max(m.item.get("width") or cw, m.item.get("height") or ch) / max(cw, ch) \
        if m.item["kind"] == "image" else 1.0
    det = abs(np.linalg.det(mat[:, :2]))  # area factor in normalised units
    area_c_in_q = det * (cw / max(cw, ch)) * (ch / max(cw, ch)) * max(H, W) ** 2
    q_cov = n_over / (H * W)
    c_cov = min(1.0, n_over / max(1.0, area_c_in_q))
    # pixels of the common part in each file
    q_px = n_over * (q.rgb.shape[0] * q.rgb.shape[1]) / (H * W)
    c_px = n_over / max(det * max(H, W) ** 2 / max(cw, ch) ** 2, 1e-12) * k * k
    m.coverage = {"query_covered": round(q_cov, 4), "archived_shown": round(c_cov, 4),
                  "common_pixels_query": int(q_px), "common_pixels_archived": int(c_px)}
    m.earlier, m.earlier_reasons = earlier_version(q_cov, c_cov, q_px, c_px, q.date,
                                                   m.item.get("date"))


def regions(diff: np.ndarray, scale: float) -> list[dict]:
    """Connected areas where the two versions differ (boxes in the query's pixels)."""
    import cv2

    mask = (diff >= DIFF_BAR).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out = []
    total = diff.size
    for k in range(1, n):
        x, y, w, h, area = stats[k]
        if area / total < MIN_REGION:
            continue
        out.append({"x": int(x * scale), "y": int(y * scale), "w": int(w * scale),
                    "h": int(h * scale), "share": round(float(area / total), 4),
                    "strength": round(float(diff[lab == k].mean()), 3)})
    out.sort(key=lambda r: -r["share"])
    return out[:10]


def earlier_version(q_cov: float, c_cov: float, q_px: float, c_px: float,
                    q_date: str | None, c_date: str | None) -> tuple[str, list[str]]:
    """Which of the two is likely the earlier version: 'archived', 'query' or 'unknown', with
    the reasons. Each cue is a tendency of how pictures travel (copies get cropped, downscaled,
    re-encoded), not a proof; dates beat them when both are known."""
    votes, why = 0, []
    if q_date and c_date and q_date[:19] != c_date[:19]:
        if c_date < q_date:
            return "archived", [f"the archived version is dated {c_date[:10]}, the query "
                                f"{q_date[:10]}"]
        return "query", [f"the query is dated {q_date[:10]}, the archived version {c_date[:10]}"]
    if c_cov < 0.9 and q_cov > 0.95:
        votes += 1
        why.append(f"the query shows only {c_cov:.0%} of the archived picture (a crop of it)")
    elif q_cov < 0.9 and c_cov > 0.95:
        votes -= 1
        why.append(f"the archived picture covers only {q_cov:.0%} of the query (a crop of it)")
    if c_px > 1.3 * q_px:
        votes += 1
        why.append(f"the archived version has {c_px / max(q_px, 1):.1f}x the pixels of the "
                   "common part (copies are usually smaller)")
    elif q_px > 1.3 * c_px:
        votes -= 1
        why.append(f"the query has {q_px / max(c_px, 1):.1f}x the pixels of the common part")
    if votes > 0:
        return "archived", why
    if votes < 0:
        return "query", why
    return "unknown", why or ["same field of view and resolution: no cue to the order"]
