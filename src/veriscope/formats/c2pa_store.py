"""A file's C2PA manifest store, read and validated by c2pa-python, offline, once per file.

Shared by the ``c2pa`` detector (which explains and scores the store) and the post check
``caption_facts`` (which takes the capture date and place the credentials sign): the store of
a :class:`Media` is read once and kept on it, whoever asks first. Never fetched from the network:
no remote manifests, no OCSP.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from veriscope.core.media import Media

ENV_TRUST_ANCHORS = "VERISCOPE_C2PA_TRUST_ANCHORS"
"""Environment variable naming a PEM bundle of trust anchors (the option ``c2pa.trust_anchors``
wins over it)."""

# Media.format -> MIME type the c2pa library reads. Formats missing here
# (bmp, matroska, ogg) cannot carry embedded Content Credentials for c2pa-rs.
MIME_BY_FORMAT = {
    "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "tiff": "image/tiff",
    "webp": "image/webp", "heif": "image/heif", "mp4": "video/mp4", "m4a": "audio/mp4",
    "avi": "video/avi", "wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg",
}


def as_dict(x) -> dict:
    """``x`` when it is an object, else an empty one: every level of a manifest store is
    written by whoever made the file, so it is read only in the shape expected."""
    return x if isinstance(x, dict) else {}


def as_list(x) -> list:
    """``x`` when it is a list, else an empty one (see :func:`as_dict`)."""
    return x if isinstance(x, list) else []


def short_error(e) -> str:
    """The first line of an exception's message (its type when empty), at most 300 chars."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return msg[:300]


def trust_anchors_path(option) -> str | None:
    """Where the trust anchors are configured: the option ``c2pa.trust_anchors`` (given here),
    else env :data:`ENV_TRUST_ANCHORS`, else None."""
    return option or os.environ.get(ENV_TRUST_ANCHORS) or None


def load_trust_anchors(path) -> tuple[str | None, str | None]:
    """(PEM text, None) or (None, problem) or (None, None) when nothing is configured."""
    if not path:
        return None, None
    p = Path(str(path)).expanduser()
    try:
        text = p.read_text(encoding="ascii", errors="replace")
    except OSError as e:
        return None, f"cannot read {p}: {e.strerror or e}"
    try:
        from cryptography import x509

        certs = x509.load_pem_x509_certificates(text.encode("ascii", errors="replace"))
    except Exception as e:
        return None, f"{p} is not a PEM certificate bundle ({short_error(e)})"
    if not certs:
        return None, f"{p} holds no certificates"
    return text, None


def offline_settings(anchors_pem: str | None) -> dict:
    """The c2pa library's settings: validate trust, never fetch remote manifests or OCSP."""
    s = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False, "verify_trust": True}}
    if anchors_pem:
        s["trust"] = {"trust_anchors": anchors_pem}
    return s


def read_store(path, mime: str, anchors_pem: str | None) -> tuple[dict, dict | None]:
    """Read and validate the manifest store of the file at ``path``; returns (store JSON,
    crJSON or None). Raises the c2pa library's errors (no manifest, not supported, remote
    manifest...), OSError, and ValueError for a store that is not a JSON object."""
    import c2pa

    context = c2pa.Context.from_dict(offline_settings(anchors_pem))
    try:
        with open(path, "rb") as fh:
            reader = c2pa.Reader(mime, fh, None, context)
            try:
                store = json.loads(reader.json())
                crjson = None
                try:
                    crjson = json.loads(reader.crjson())
                except Exception:  # crJSON is optional extra detail (certificate names)
                    crjson = None
            finally:
                reader.close()
    finally:
        context.close()
    if not isinstance(store, dict):
        raise ValueError("manifest store is not a JSON object")
    return store, crjson


def media_store(media: Media, anchors_pem: str | None) -> tuple[dict, dict | None]:
    """:func:`read_store` for ``media`` (its format must be in :data:`MIME_BY_FORMAT`), read
    once per trust-anchor set and kept on the Media; a failure is raised, not kept."""
    cache = media.__dict__.setdefault("_c2pa_store", {})
    if anchors_pem not in cache:
        cache[anchors_pem] = read_store(media.path, MIME_BY_FORMAT[media.format], anchors_pem)
    return cache[anchors_pem]
