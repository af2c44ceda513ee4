"""Stable Diffusion invisible watermark (DWT-DCT / DWT-DCT-SVD) detector.

Decodes the marks that the Stable Diffusion reference code embeds with the ``invisible-watermark``
package and compares them with the known payloads (see ``dwtdct.PAYLOADS``). The algorithm and
the threshold derivation are described in ``dwtdct`` and docs/detectors/watermark.md.
"""

from __future__ import annotations

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector

MATCH_SCORE = 0.97
"""Score when a known payload decodes above its threshold (rule-set: the chance that an unmarked
photo passes is designed to be below 1e-4 per payload, but anyone can embed the mark in any image
with the public package, so the score stays short of 1)."""


class WatermarkDetector(Detector):
    name = "watermark"
    version = "1.0.0"
    modalities = ("image",)
    requires = ("pywt", "cv2")
    summary = "Decodes the invisible DWT-DCT watermark that Stable Diffusion reference scripts embed"
    looks_at = ("the U (blue-difference) chroma channel: 4x4 blocks of its Haar wavelet "
                "approximation band, where the invisible-watermark package hides the payloads "
                "of the SD 1.x, SD 2.x and SDXL reference code")
    cannot_tell = ("absence of the mark proves nothing: most generators and front-ends do not "
                   "embed it, and JPEG re-saving, resizing, cropping or colour edits erase it; "
                   "its presence shows the public encoder was run on the image, which anyone can do")

    def applicable(self, media: Media) -> str | None:
        reason = super().applicable(media)
        if reason:
            return reason
        from veriscope.detectors.provenance.watermark import dwtdct as W

        w, h = media.width, media.height
        if w and h:
            nb = W.n_blocks(h, w)
            shortest = min(p.length for p in W.PAYLOADS)
            if nb < shortest:
                return (f"image is {w}x{h}: too small for the watermark ({nb} blocks in the chroma "
                        f"wavelet band, fewer than the {shortest} bits of the shortest known payload)")
        return None

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        from veriscope.detectors.provenance.watermark import dwtdct as W

        rgb = media.rgb()
        h, w = rgb.shape[:2]
        nb = W.n_blocks(h, w)
        shortest = min(p.length for p in W.PAYLOADS)
        if nb < shortest:
            return Evidence.not_applicable(
                self.name, self.version,
                f"image is {w}x{h}: too small for the watermark ({nb} blocks in the chroma "
                f"wavelet band, fewer than the {shortest} bits of the shortest known payload)")

        scored = W.score_image(rgb)
        results = scored["results"]
        by_key = {p.key: p for p in W.PAYLOADS}
        thresholds = {p.key: W.threshold_for(p) for p in W.PAYLOADS
                      if p.key not in {s["payload"] for s in scored["skipped"]}}
        accuracies = [{k: r[k] for k in ("payload", "method", "reading", "bits", "matching_bits",
                                          "accuracy", "threshold", "detected")}
                      for r in results]
        data = {"blocks": nb, "accuracies": accuracies, "thresholds": thresholds,
                "skipped_payloads": scored["skipped"],
                "fpr_target_per_payload": W.FPR_TARGET_PER_PAYLOAD}

        hits = [r for r in results if r["detected"]]
        if hits:
            # Best test per payload, then payloads ordered by how unlikely the match is by chance
            # (binomial tail): a mark of one payload can partly read as another, because all
            # payload lengths are multiples of 8 and two payloads are ASCII text.
            best_per_payload: dict[str, dict] = {}
            for r in hits:
                r = dict(r, chance=W.binomial_tail(r["bits"], r["matching_bits"]))
                cur = best_per_payload.get(r["payload"])
                if cur is None or r["chance"] < cur["chance"]:
                    best_per_payload[r["payload"]] = r
            ranked = sorted(best_per_payload.values(), key=lambda r: r["chance"])
            top = ranked[0]
            p = by_key[top["payload"]]
            data["matched_payload"] = top["payload"]
            data["also_above_threshold"] = [r["payload"] for r in ranked[1:]]
            if top["method"] == p.method:
                meaning = p.meaning
            else:
                meaning = (f"this is that code's payload, but written with the {top['method']} "
                           f"method, which that code does not use, so someone ran the public "
                           f"encoder with this payload on purpose")
            ev = self.evidence(score=MATCH_SCORE, label="synthetic", data=data)
            ev.add("high", f"watermark_{p.key}",
                   f"The invisible watermark of {p.name} decodes from this image "
                   f"({top['matching_bits']} of {top['bits']} bits match; an unmarked image "
                   f"reaches {thresholds[p.key]['min_matching_bits']} with odds below 1 in 10,000): "
                   f"{meaning}.",
                   payload=p.key, method=top["method"], reading=top["reading"],
                   matching_bits=top["matching_bits"], bits=top["bits"],
                   accuracy=round(top["accuracy"], 4), threshold=round(top["threshold"], 4),
                   chance_probability=top["chance"], source=p.source)
            for r in ranked[1:]:
                q = by_key[r["payload"]]
                ev.add("info", "watermark_secondary_match",
                       f"The payload of {q.name} also reaches its threshold "
                       f"({r['matching_bits']} of {r['bits']} bits), a weaker match that a "
                       f"{p.name} mark can produce on its own because the payloads overlap.",
                       payload=q.key, method=r["method"], reading=r["reading"],
                       matching_bits=r["matching_bits"], bits=r["bits"],
                       chance_probability=r["chance"])
            return ev

        ev = self.evidence(score=0.0, label="no_evidence", data=data)
        best = max(results, key=lambda r: r["accuracy"])
        ev.add("info", "watermark_not_found",
               f"No known Stable Diffusion invisible watermark decodes from this image (best "
               f"match: {best['matching_bits']} of {best['bits']} bits for "
               f"{by_key[best['payload']].name}, {best['method']}; a match needs "
               f"{thresholds[best['payload']]['min_matching_bits']}).",
               best_payload=best["payload"], best_method=best["method"],
               best_reading=best["reading"], best_accuracy=round(best["accuracy"], 4))
        return ev
