"""caption_vlm: an optional vision-language model's opinion on the caption (off by default).

Semantic claims no small offline check can test (does the picture show a flood? a protest?) can
be put to a vision-language model that the user serves locally behind an OpenAI-compatible
endpoint (llama.cpp server, Ollama, vLLM). It runs only when an endpoint is configured
(``veriscope analyze --vlm-endpoint URL [--vlm-model NAME]``, the options
``caption_vlm.endpoint`` / ``caption_vlm.model``, or env ``VERISCOPE_VLM_ENDPOINT`` /
``VERISCOPE_VLM_MODEL``); nothing is sent anywhere otherwise.

The model gets the picture (JPEG, at most 1 MP), the caption and the facts the file carries
(capture date, GPS), and is asked for claims as JSON: the exact words of the caption each rests
on, ``supported`` / ``contradicted`` / ``cannot_tell``, the image region it looked at and a
reason. Every claim is checked before it is kept: its words must occur in the caption (else it
is dropped: ungrounded), its verdict must be one of the three, its region must lie inside the
picture (else the region is dropped). Kept claims are **opinions**: the report lists them apart
(``post.opinions``) with the status the evidence gives the same words, and they never change the
post's label, score or DGM4 fields. Its quality is not measured here (no model was available).
"""

from __future__ import annotations

import base64
import io
import json
import os

from veriscope.core.evidence import Box, Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, working_rgb
from veriscope.detectors.post.base import CaptionCheck

VLM_PIXELS = 1_000_000
MAX_RESPONSE_BYTES = 1 << 20
MAX_CLAIMS = 20
VERDICTS = ("supported", "contradicted", "cannot_tell")

INSTRUCTIONS = (
    "You check whether a caption fits a picture. Answer with one JSON object only: "
    '{"claims": [{"text": "<exact words copied from the caption>", "verdict": '
    '"supported" | "contradicted" | "cannot_tell", "region": [x, y, w, h] or null, '
    '"reason": "<one sentence>"}]}. One entry per claim of the caption about what the picture '
    "shows (a place, an event, people, objects, weather, time of day). Copy the caption's words "
    "exactly. region: the pixels of the picture the verdict rests on, in the picture as sent. "
    "Say cannot_tell when the picture does not show it.")


def endpoint(ctx: Context) -> tuple[str | None, str]:
    o = ctx.opts("caption_vlm")
    url = o.get("endpoint") or os.environ.get("VERISCOPE_VLM_ENDPOINT")
    model = o.get("model") or os.environ.get("VERISCOPE_VLM_MODEL") or "default"
    return url, model


def _facts(media: Media) -> str:
    from veriscope.detectors.post.caption_facts import capture_date, gps_position
    from veriscope.formats.metadata import read_all

    meta = read_all(media)
    taken, where, _ = capture_date(meta)
    pos = gps_position(meta)
    out = []
    if taken:
        out.append(f"capture date in the file ({where}): {taken.isoformat()}")
    if pos:
        out.append(f"GPS position in the file: {pos[0]:.5f}, {pos[1]:.5f}")
    return "; ".join(out) or "the file carries no capture date or GPS position"


def ground(raw: dict, caption: str, size: tuple[int, int], scale: float) -> tuple[list, list]:
    """The model's claims that can be tied to the caption (kept) and those that cannot (dropped,
    with the reason)."""
    from veriscope.core.post import word_indices

    kept, dropped = [], []
    items = raw.get("claims") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return [], [{"claim": None, "why": "the answer has no list of claims"}]
    w, h = size
    for it in items[:MAX_CLAIMS]:
        if not isinstance(it, dict):
            dropped.append({"claim": None, "why": "not an object"})
            continue
        text = it.get("text")
        verdict = it.get("verdict")
        if not isinstance(text, str) or not text.strip() or text.strip() not in caption:
            dropped.append({"claim": str(text)[:200], "why": "its words are not in the caption"})
            continue
        if verdict not in VERDICTS:
            dropped.append({"claim": text[:200], "why": f"unknown verdict {str(verdict)[:40]!r}"})
            continue
        t = text.strip()
        a = caption.index(t)
        region, note = None, None
        r = it.get("region")
        if r is not None:
            ok = (isinstance(r, list) and len(r) == 4
                  and all(isinstance(v, (int, float)) and v == v for v in r))
            if ok:
                x, y, rw, rh = (float(v) / scale for v in r)
                ok = x >= 0 and y >= 0 and rw > 0 and rh > 0 and x + rw <= w + 1 and y + rh <= h + 1
            if ok:
                region = [int(x), int(y), int(round(rw)), int(round(rh))]
            else:
                note = "its region is not inside the picture and was left out"
        reason = it.get("reason")
        kept.append({"text": t, "start": a, "end": a + len(t), "words": word_indices(caption, a, a + len(t)),
                     "verdict": verdict, "region": region,
                     "reason": reason[:500] if isinstance(reason, str) else "", "note": note})
    return kept, dropped


class CaptionVLMDetector(CaptionCheck):
    name = "caption_vlm"
    version = "1"
    summary = "Optional: a local vision-language model's opinion on the caption (off by default)"
    looks_at = ("What a vision-language model served by you (OpenAI-compatible endpoint) says "
                "about the caption's claims on what the picture shows, tied to the caption's "
                "words and to image regions.")
    cannot_tell = ("Anything as proof: a model's answer is an opinion, shown apart and never used "
                   "for the post's label. Claims it cannot tie to the caption's words are dropped. "
                   "Its accuracy is not measured here.")
    how_to_read = "Opinions, each with the words and the region it rests on; not evidence."

    def analyze(self, media: Media, ctx: Context) -> Evidence:
        if (na := self.no_caption(ctx)) is not None:
            return na
        post = ctx.post
        url, model = endpoint(ctx)
        if not url:
            return Evidence.not_applicable(self.name, self.version, "off: no vision-language model "
                                           "endpoint configured (--vlm-endpoint)")
        if not url.startswith(("http://", "https://")):
            return Evidence.failed(self.name, self.version, f"endpoint {url!r} is not an http(s) URL")
        from PIL import Image

        rgb, scale = working_rgb(media, VLM_PIXELS)
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="JPEG", quality=90)
        img = base64.b64encode(buf.getvalue()).decode("ascii")
        caption = post["caption"]
        text = (f"Caption: {caption}\nFacts read from the file: {_facts(media)}\n"
                f"Picture size as sent: {rgb.shape[1]}x{rgb.shape[0]} pixels.")
        body = {"model": model, "temperature": 0, "messages": [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{img}"}}]}]}
        import urllib.error  # only when an endpoint is set: kept off every start-up
        import urllib.request

        req = urllib.request.Request(url.rstrip("/") + "/chat/completions",
                                     data=json.dumps(body).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=max(5.0, ctx.timeout_s - 5)) as resp:
                data = resp.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as e:
            return Evidence.failed(self.name, self.version, f"the model endpoint answered HTTP {e.code}")
        except (urllib.error.URLError, OSError) as e:
            why = getattr(e, "reason", e)
            return Evidence.failed(self.name, self.version, f"cannot reach the model endpoint ({why})")
        if len(data) > MAX_RESPONSE_BYTES:
            return Evidence.failed(self.name, self.version, "the model's answer is over 1 MiB")
        try:
            content = json.loads(data.decode("utf-8"))["choices"][0]["message"]["content"]
            s = content.strip()
            if s.startswith("```"):
                s = s.strip("`").removeprefix("json").strip()
            raw = json.loads(s)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return Evidence.failed(self.name, self.version, "the model's answer is not the JSON "
                                   "asked for")
        kept, dropped = ground(raw, caption, (media.width, media.height), scale)
        ev = self.evidence()
        ev.data.update(model=model, opinions=kept, dropped=dropped)
        ev.boxes = [Box(*o["region"], label=f"{o['verdict']}: {o['text'][:80]}")
                    for o in kept if o["region"]]
        for o in kept:
            ev.add("info", "post.model_opinion",
                   f"Model opinion (not proof): \u201c{o['text']}\u201d {o['verdict'].replace('_', ' ')}"
                   + (f": {o['reason']}" if o["reason"] else ""), words=o["words"], region=o["region"])
        if dropped:
            ev.add("info", "post.model_dropped", f"{len(dropped)} claim(s) of the model could not "
                   "be tied to the caption and were dropped.")
        return ev
