"""Sign media with C2PA Content Credentials using a throwaway test CA.

This is a helper for tests and for ``make demo``; it is NOT a production signer.
It makes a private test root CA and an ES256 (P-256) signing certificate that
meets the C2PA certificate profile (not a CA, digitalSignature key usage, an
extended key usage of emailProtection or the C2PA claim-signing EKU), then
embeds a small manifest (claim generator, title, actions, optional parent
ingredient) with c2pa-python. Everything is offline: no timestamp authority.

Python use::

    from veriscope.synth.c2pa_sign import make_test_credentials, sign_file
    creds = make_test_credentials()
    sign_file("in.png", "signed.png", creds, title="A test image",
              actions=["c2pa.created"], digital_source_type="trainedAlgorithmicMedia")
    creds.write_trust_anchors("anchors.pem")  # give this to the c2pa detector

Command line (credentials are kept in --creds-dir and reused between calls)::

    python -m veriscope.synth.c2pa_sign SRC DST --creds-dir DIR [--ai] [--edit] [--parent FILE]
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

CLAIM_GENERATOR = "veriscope-demo"
IPTC_SOURCE_TYPE_BASE = "http://cv.iptc.org/newscodes/digitalsourcetype/"
DEFAULT_CREATED_SOURCE_TYPE = "digitalCapture"  # used on c2pa.created when none is given
C2PA_CLAIM_SIGNING_EKU = "1.3.6.1.4.1.62558.2.1"  # c2pa-kp-claimSigning

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
         ".webp": "image/webp", ".tif": "image/tiff", ".tiff": "image/tiff",
         ".heic": "image/heic", ".heif": "image/heif", ".avif": "image/avif",
         ".mp4": "video/mp4", ".mov": "video/quicktime", ".m4a": "audio/mp4",
         ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".avi": "video/avi"}


@dataclass
class SigningCredentials:
    """A test root CA and a leaf signing certificate, all PEM bytes."""

    ca_cert_pem: bytes
    ca_key_pem: bytes
    cert_chain_pem: bytes  # leaf certificate followed by the CA certificate
    key_pem: bytes  # the leaf's private key (PKCS#8, unencrypted)

    def write_trust_anchors(self, path) -> Path:
        """Write the CA certificate (the trust anchor) to ``path`` and return it."""
        p = Path(path)
        p.write_bytes(self.ca_cert_pem)
        return p

    def save(self, directory) -> Path:
        """Write ca.pem, ca_key.pem, chain.pem and key.pem into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        (d / "ca.pem").write_bytes(self.ca_cert_pem)
        (d / "ca_key.pem").write_bytes(self.ca_key_pem)
        (d / "chain.pem").write_bytes(self.cert_chain_pem)
        (d / "key.pem").write_bytes(self.key_pem)
        return d

    @classmethod
    def load(cls, directory) -> SigningCredentials:
        d = Path(directory)
        return cls(ca_cert_pem=(d / "ca.pem").read_bytes(), ca_key_pem=(d / "ca_key.pem").read_bytes(),
                   cert_chain_pem=(d / "chain.pem").read_bytes(), key_pem=(d / "key.pem").read_bytes())


TestCredentials = SigningCredentials  # earlier name, kept for callers that used it
TestCredentials.__test__ = False  # not a pytest test class


def make_test_credentials(common_name: str = "Veriscope Demo Signer",
                          organization: str = "Veriscope Demo",
                          ca_common_name: str = "Veriscope Demo Test Root CA",
                          ca_organization: str = "Veriscope Test CA",
                          valid_days: float = 365,
                          eku: str = "email") -> SigningCredentials:
    """Generate a fresh P-256 test root CA and a C2PA-conformant ES256 signing certificate.

    ``eku`` is "email" (emailProtection) or "both" (the C2PA claim-signing EKU
    c2pa-kp-claimSigning plus emailProtection). The C2PA EKU alone is not used:
    c2pa-rs with default settings accepts it only when listed in its trust_config.
    ``valid_days`` may be fractional (tests use a few seconds to get an expired
    certificate).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

    now = _dt.datetime.now(_dt.UTC)
    start = now - _dt.timedelta(hours=1)

    def _name(cn: str, org: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                          x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])

    def _ku(**on) -> x509.KeyUsage:
        flags = dict(digital_signature=False, content_commitment=False, key_encipherment=False,
                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                     crl_sign=False, encipher_only=False, decipher_only=False)
        flags.update(on)
        return x509.KeyUsage(**flags)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(ca_common_name, ca_organization)
    ca = (x509.CertificateBuilder()
          .subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(now + _dt.timedelta(days=valid_days + 1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_ku(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))

    usages = {"email": [ExtendedKeyUsageOID.EMAIL_PROTECTION],
              "both": [ObjectIdentifier(C2PA_CLAIM_SIGNING_EKU),
                       ExtendedKeyUsageOID.EMAIL_PROTECTION]}.get(eku)
    if usages is None:
        raise ValueError(f"eku must be 'email' or 'both', not {eku!r}")
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(_name(common_name, organization)).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(now + _dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_ku(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))

    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    none = serialization.NoEncryption()
    return SigningCredentials(
        ca_cert_pem=ca.public_bytes(pem),
        ca_key_pem=ca_key.private_bytes(pem, pkcs8, none),
        cert_chain_pem=leaf.public_bytes(pem) + ca.public_bytes(pem),
        key_pem=key.private_bytes(pem, pkcs8, none),
    )


def source_type_url(digital_source_type: str | None) -> str | None:
    """Expand a short IPTC digital source type ("trainedAlgorithmicMedia") to its URL."""
    if not digital_source_type:
        return None
    if "://" in digital_source_type:
        return digital_source_type
    return IPTC_SOURCE_TYPE_BASE + digital_source_type


def build_manifest(*, title: str, claim_generator: str = CLAIM_GENERATOR,
                   actions=("c2pa.created",), digital_source_type: str | None = None,
                   software_agent: str | None = None) -> dict:
    """The manifest definition (a dict) that :func:`sign_file` embeds.

    ``actions`` items are action names ("c2pa.created", "c2pa.edited", ...) or
    full action dicts. ``digital_source_type`` (short IPTC name or URL) is put on
    the c2pa.created action, or on the first action when there is no c2pa.created.
    A c2pa.created action left without one gets "digitalCapture" (C2PA 2.x
    requires the field on c2pa.created).
    """
    when = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    agent = {"name": software_agent or claim_generator}
    out = []
    for a in actions:
        if isinstance(a, str):
            a = {"action": a}
        a = dict(a)
        a.setdefault("when", when)
        a.setdefault("softwareAgent", agent)
        out.append(a)
    dst = source_type_url(digital_source_type)
    if dst and out:
        target = next((a for a in out if a.get("action") == "c2pa.created"), out[0])
        target["digitalSourceType"] = dst
    for a in out:  # C2PA 2.x: a c2pa.created action must name its digital source type
        if a.get("action") == "c2pa.created" and not a.get("digitalSourceType"):
            a["digitalSourceType"] = source_type_url(DEFAULT_CREATED_SOURCE_TYPE)
    return {
        "claim_generator_info": [{"name": claim_generator, "version": "1.0"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": out}}],
    }


def sign_file(src, dst, creds: SigningCredentials, *, title: str | None = None,
              claim_generator: str = CLAIM_GENERATOR, actions=None,
              digital_source_type: str | None = None, software_agent: str | None = None,
              parent=None) -> Path:
    """Embed a signed C2PA manifest in a copy of ``src`` written to ``dst``.

    actions: list of action names or dicts. Default: ["c2pa.created"] without a
        parent, ["c2pa.opened", "c2pa.edited"] with one. When the list does not
        start with c2pa.created / c2pa.opened, that action is put first (the
        C2PA 2.x rule), so actions=["c2pa.edited"] is fine.
    digital_source_type: e.g. "trainedAlgorithmicMedia" (AI generated), "digitalCapture".
    parent: path of the file this one was edited from; it is recorded as a
        parentOf ingredient (with its own manifest, if it carries one).
    Returns ``Path(dst)``. Raises c2pa.C2paError on a signing failure.
    """
    import c2pa

    src, dst = Path(src), Path(dst)
    mime = _mime(src)
    first = "c2pa.opened" if parent is not None else "c2pa.created"
    if actions is None:
        actions = [first, "c2pa.edited"] if parent is not None else [first]
    actions = list(actions)
    names = [a if isinstance(a, str) else a.get("action") for a in actions]
    if not names or names[0] not in ("c2pa.created", "c2pa.opened"):
        actions.insert(0, first)  # C2PA 2.x: the first action must be created or opened
    manifest = build_manifest(title=title or src.name, claim_generator=claim_generator,
                              actions=actions, digital_source_type=digital_source_type,
                              software_agent=software_agent)
    parent_id = None
    if parent is not None:
        parent_id = "parent-ingredient"
        for a in manifest["assertions"][0]["data"]["actions"]:
            if a["action"] == "c2pa.opened":
                a.setdefault("parameters", {})["ingredientIds"] = [parent_id]
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, creds.cert_chain_pem, creds.key_pem,
                               None)
    signer = c2pa.Signer.from_info(info)
    try:
        builder = c2pa.Builder(json.dumps(manifest))
        try:
            if parent is not None:
                pp = Path(parent)
                ing = {"title": pp.name, "relationship": "parentOf", "label": parent_id}
                with open(pp, "rb") as fh:
                    builder.add_ingredient(json.dumps(ing), _mime(pp), fh)
            dst.parent.mkdir(parents=True, exist_ok=True)
            with open(src, "rb") as fin, open(dst, "w+b") as fout:
                builder.sign(signer, mime, fin, fout)
        finally:
            builder.close()
    finally:
        signer.close()
    return dst


def _mime(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in _MIME:
        raise ValueError(f"{path}: cannot tell the media type from the extension {ext!r}")
    return _MIME[ext]


def load_or_make_credentials(directory) -> SigningCredentials:
    """Reuse the credentials saved in ``directory`` or make and save new ones."""
    d = Path(directory)
    if all((d / n).is_file() for n in ("ca.pem", "ca_key.pem", "chain.pem", "key.pem")):
        return SigningCredentials.load(d)
    creds = make_test_credentials()
    creds.save(d)
    return creds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m veriscope.synth.c2pa_sign",
                                 description="Sign a media file with test Content Credentials "
                                             "(throwaway test CA; for demos and tests only).")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--creds-dir", required=True,
                    help="folder holding ca.pem/chain.pem/key.pem (created if missing); "
                         "ca.pem is the trust anchor to give the c2pa detector")
    ap.add_argument("--title", default=None)
    ap.add_argument("--ai", action="store_true",
                    help="declare the content AI generated (trainedAlgorithmicMedia)")
    ap.add_argument("--edit", action="store_true", help="declare a c2pa.edited action")
    ap.add_argument("--parent", default=None, help="record this file as the parent ingredient")
    a = ap.parse_args(argv)
    creds = load_or_make_credentials(a.creds_dir)
    if a.edit or a.parent:
        actions = (["c2pa.opened"] if a.parent else ["c2pa.created"]) + ["c2pa.edited"]
    else:
        actions = ["c2pa.created"]
    sign_file(a.src, a.dst, creds, title=a.title, actions=actions,
              digital_source_type="trainedAlgorithmicMedia" if a.ai else None, parent=a.parent)
    print(a.dst)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
