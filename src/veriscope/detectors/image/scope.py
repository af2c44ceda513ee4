"""``scope``: is this picture within what the pixel checks were built for? No score.

It says when a picture is tiny, heavily compressed or a graphic (screenshot of a user
interface, text, chart, drawing), where the statistical detectors were not built or measured.
Fusion (rule 10, docs/fusion.md) then turns a label that rests on pixel statistics alone into
``inconclusive`` with the reason; proof the file carries (signatures, watermarks, generator
parameters) is unaffected. The rules are in :mod:`veriscope.signals.scope`.
"""

from __future__ import annotations

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.detectors.image.noise import jpeg_quality
from veriscope.signals import scope


class ScopeDetector(Detector):
    name = "scope"
    version = "1.0"
    modalities = ("image",)
    localizes = False
    default = True
    summary = "Out-of-scope pictures (tiny, heavily compressed, graphics): no score, read by fusion"
    looks_at = ("Whether the picture is a kind the pixel checks were built for: its size, its "
                "JPEG quality and how much of it is perfectly flat colour (screenshots, text, "
                "charts, drawings).")
    cannot_tell = ("Anything about manipulation: it only says when the other checks' statistics "
                   "should not be trusted. It does not recognise pictures of screens, artwork "
                   "painted on canvas or repeated re-compression at good quality.")

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        rgb = media.rgb()
        res = scope.assess(rgb, jpeg_quality(media))
        ev = self.evidence(score=None, label=None)
        ev.data["scope"] = res
        if res["in_scope"]:
            ev.add("info", "in_scope", "The picture is a kind the pixel checks were built for "
                   f"({res['facts']['width']}x{res['facts']['height']} px).")
        for r in res["reasons"]:
            ev.add("info", f"out_of_scope_{r['code']}",
                   f"Outside what the pixel checks were built for: {r['message']}.")
        return ev
