"""Facts about the picture that its C2PA Content Credentials sign: capture date and GPS.

Read for ``caption_facts`` with c2pa-python, offline (no remote manifest, no OCSP), from the
active manifest of a file whose credentials validate (``Valid`` or ``Trusted``). The store is
the one the ``c2pa`` detector reads for the image verdict, read once per :class:`Media`
(:mod:`veriscope.formats.c2pa_store`). Three dates, which mean different things:

- ``exif:DateTimeOriginal`` of a ``stds.exif`` or ``c2pa.metadata`` assertion: the capture time
  as the signer recorded it (a camera that signs at capture). Used as the capture date.
- ``when`` of the ``c2pa.created`` action: when the signing software says it created the
  content (for a camera, the capture; for an editor or a generator, the creation of this
  asset). Used as the capture date only when neither an assertion nor the plain EXIF gives
  one (``created_date``).
- the claim's signature time (``signature_info.time``, present only with a trusted timestamp):
  the file existed, signed, at that time; it bounds the capture date from above and is never
  a capture date itself.

GPS: ``exif:GPSLatitude`` / ``exif:GPSLongitude`` of the same assertions (XMP form
``"48,51.4N"`` or ``"48,51,24N"``, or decimal degrees).
"""

from __future__ import annotations

import re

from veriscope.core.media import Media
from veriscope.detectors.post.claims import parse_exif_datetime as _date
from veriscope.formats.c2pa_store import (
    MIME_BY_FORMAT,
    as_list,
    load_trust_anchors,
    media_store,
    trust_anchors_path,
)

VALID_STATES = ("Valid", "Trusted")
METADATA_LABELS = ("stds.exif", "c2pa.metadata")
_XMP_GPS = re.compile(r"^\s*(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?\s*([NSEW])\s*$",
                      re.I)


def xmp_coordinate(v, negative: str) -> float | None:
    """Degrees from an XMP GPSCoordinate (``"48,51.4N"``, ``"48,51,24N"``) or a number."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if not isinstance(v, str):
        return None
    m = _XMP_GPS.match(v)
    if not m:
        try:
            return float(v)
        except ValueError:
            return None
    x = float(m[1]) + float(m[2]) / 60 + float(m[3] or 0) / 3600
    return -x if m[4].upper() == negative else x


def read_store(media: Media, ctx=None) -> dict | None:
    """The validated manifest store (``Reader.json()``), or None: no credentials, a format the
    library does not read, or c2pa-python missing. Read once per Media with the ``c2pa``
    detector (:func:`veriscope.formats.c2pa_store.media_store`), with the same trust anchors
    (the option ``c2pa.trust_anchors`` or env ``VERISCOPE_C2PA_TRUST_ANCHORS``)."""
    if media.format not in MIME_BY_FORMAT:
        return None
    path = trust_anchors_path(ctx.opts("c2pa").get("trust_anchors") if ctx is not None else None)
    pem, _ = load_trust_anchors(path)
    try:
        store, _ = media_store(media, pem)
    except Exception:  # no manifest, a damaged one, a remote one, no library: no signed facts
        return None
    return store


def c2pa_facts(media: Media, ctx=None) -> dict | None:
    """What the credentials sign about the picture (None: no readable credentials)::

        {"state": "Valid", "signer": str | None, "usable": bool,
         "capture_date": datetime | None, "capture_date_from": str | None,
         "gps": (lat, lon) | None, "gps_from": str | None,
         "created_when": str | None, "created_date": datetime | None,
         "signing_time": datetime | None}

    ``usable`` is False when the credentials do not validate: their statements are then not
    facts of this file."""
    cache = media.__dict__.setdefault("_post_c2pa", {})
    if "facts" in cache:
        return cache["facts"]
    store = read_store(media, ctx)
    facts = None if store is None else facts_from_store(store)
    cache["facts"] = facts
    return facts


def facts_from_store(store: dict) -> dict | None:
    label = store.get("active_manifest")
    manifests = store.get("manifests") if isinstance(store.get("manifests"), dict) else {}
    m = manifests.get(label) if isinstance(label, str) else None
    if not isinstance(m, dict):
        return None
    state = store.get("validation_state")
    sig = m.get("signature_info") if isinstance(m.get("signature_info"), dict) else {}
    signer = sig.get("common_name") or sig.get("issuer")
    out = {"state": state, "signer": signer, "usable": state in VALID_STATES,
           "capture_date": None, "capture_date_from": None, "gps": None, "gps_from": None,
           "created_when": None, "signing_time": _date(sig.get("time"))}
    who = f"signed by {signer}, {state}" if signer else f"signed, {state}"
    for a in as_list(m.get("assertions")):
        if not isinstance(a, dict) or not isinstance(a.get("data"), dict):
            continue
        lab, d = str(a.get("label", "")), a["data"]
        if lab in METADATA_LABELS:
            if out["capture_date"] is None:
                for key in ("exif:DateTimeOriginal", "exif:DateTimeDigitized"):
                    t = _date(d.get(key))
                    if t is not None:
                        out["capture_date"] = t
                        out["capture_date_from"] = f"C2PA {lab} {key.split(':')[1]} ({who})"
                        break
            if out["gps"] is None:
                lat = xmp_coordinate(d.get("exif:GPSLatitude"), "S")
                lon = xmp_coordinate(d.get("exif:GPSLongitude"), "W")
                if (lat is not None and lon is not None and -90 <= lat <= 90
                        and -180 <= lon <= 180 and not (abs(lat) < 1e-6 and abs(lon) < 1e-6)):
                    out["gps"] = (lat, lon)
                    out["gps_from"] = f"C2PA {lab} GPS ({who})"
        elif lab.startswith("c2pa.actions"):
            for act in as_list(d.get("actions")):
                if (isinstance(act, dict) and act.get("action") == "c2pa.created"
                        and out["created_when"] is None and isinstance(act.get("when"), str)):
                    out["created_when"] = act["when"]
    out["created_date"] = _date(out["created_when"]) if out["created_when"] else None
    out["created_from"] = f"C2PA c2pa.created action time ({who})"
    return out
