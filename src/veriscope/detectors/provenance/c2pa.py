"""C2PA Content Credentials: read, validate and explain a signed provenance manifest.

A C2PA manifest is a signed statement embedded in a media file: who signed it
(an X.509 certificate), which software made the claim, what was done to the
content (actions such as "created by an AI model" or "cropped"), which earlier
files it was made from (ingredients), and a hash of the file's bytes so that any
later change is detectable. Reading and cryptographic validation are done by
the c2pa-python library (the reference c2pa-rs implementation); this module
turns the result into plain-language findings and a rule-based score.

Scoring rules (constants set by rule, not fitted; see docs/detectors/c2pa.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from veriscope.core.evidence import Evidence
from veriscope.core.media import Media
from veriscope.detectors.base import Context, Detector
from veriscope.formats.c2pa_store import (
    MIME_BY_FORMAT,
    load_trust_anchors,
    media_store,
    trust_anchors_path,
)
from veriscope.formats.c2pa_store import as_dict as _dict
from veriscope.formats.c2pa_store import as_list as _list
from veriscope.formats.c2pa_store import short_error as _short

# ---------------------------------------------------------------- score rules
SCORE_AI_DECLARED = 0.97  # valid manifest whose signer declares AI / algorithmic generation
SCORE_AI_DECLARED_CREDENTIAL_PROBLEM = 0.9  # same, content intact but certificate expired/revoked
SCORE_CONTENT_CHANGED = 0.9  # the signed content hash no longer matches the file
SCORE_INVALID = 0.8  # signature broken, manifest malformed or altered
SCORE_EDITS_DECLARED = 0.3  # valid manifest that openly declares edits (not deception)
SCORE_NOTHING_FOUND = 0.0  # no manifest, or a valid manifest declaring a plain capture/creation


# ---------------------------------------------------------------- status codes
# Every C2PA validation status code (C2PA technical specification 2.x, "standard
# status codes", plus the codes c2pa-rs emits), in one plain sentence each.
STATUS_CODE_MEANINGS: dict[str, str] = {
    # success
    "claimSignature.validated": "the signature over the manifest checks out",
    "claimSignature.insideValidity": "the signing certificate was within its validity period when it was used",
    "signingCredential.trusted": "the signing certificate chains to a trust anchor this check was configured with",
    "signingCredential.ocsp.notRevoked": "the certificate authority confirmed the signing certificate was not revoked",
    "timeStamp.validated": "the trusted timestamp on the signature is well formed and matches the signature",
    "timeStamp.trusted": "the timestamp authority is on the trust list",
    "assertion.hashedURI.match": "a statement in the manifest is unchanged since signing",
    "assertion.dataHash.match": "the file's bytes are unchanged since the manifest was signed",
    "assertion.bmffHash.match": "the video/audio boxes are unchanged since the manifest was signed",
    "assertion.boxesHash.match": "the file's data boxes are unchanged since the manifest was signed",
    "assertion.collectionHash.match": "every file in the signed collection is unchanged",
    "assertion.accessible": "a statement stored outside the file could be fetched",
    "ingredient.manifest.validated": "the manifest of a source file (ingredient) is unchanged since it was used",
    "ingredient.claimSignature.validated": "the signature of a source file's manifest (ingredient) is unchanged",
    # informational
    "signingCredential.ocsp.skipped": "the revocation status of the signing certificate was not checked online (offline check)",
    "signingCredential.ocsp.inaccessible": "the revocation status of the signing certificate could not be fetched",
    "timeStamp.mismatch": "the timestamp does not belong to this signature, so the signing time is unproven",
    "timeStamp.malformed": "the timestamp is damaged, so the signing time is unproven",
    "timeStamp.outsideValidity": "the timestamp falls outside a certificate's validity period",
    "timeStamp.untrusted": "the timestamp authority is not on the trust list, so the signing time is unproven",
    "manifest.unknownProvenance": "this manifest's provenance cannot be interpreted by this version of the library",
    "manifest.unreferenced": "the file holds a manifest that nothing refers to",
    "ingredient.unknownProvenance": "a source file (ingredient) carried no readable Content Credentials",
    "algorithm.deprecated": "the manifest uses an outdated cryptographic algorithm",
    "timeOfSigning.insideValidity": "the claimed signing time is inside the certificate's validity period",
    # failure: content and structure
    "assertion.dataHash.mismatch": "the image pixels or file bytes changed after the manifest was signed",
    "assertion.bmffHash.mismatch": "the video or audio data changed after the manifest was signed",
    "assertion.boxesHash.mismatch": "the file's data changed after the manifest was signed",
    "assertion.boxesHash.unknownBox": "the file contains data blocks that were not there when it was signed",
    "assertion.collectionHash.mismatch": "a file in the signed collection changed after signing",
    "assertion.collectionHash.incorrectFileCount": "a file listed in the signed collection is missing",
    "assertion.collectionHash.invalidURI": "the signed collection refers to a file with an invalid path",
    "assertion.collectionHash.malformed": "the collection hash statement is damaged",
    "assertion.multiAssetHash.malformed": "the multi-part hash statement is damaged",
    "assertion.multiAssetHash.missingPart": "a part of a multi-part file that was signed is missing",
    "assertion.dataHash.malformed": "the content hash statement is damaged, so the content cannot be checked",
    "assertion.dataHash.redacted": "the content hash statement was removed, so the content cannot be checked",
    "assertion.bmffHash.malformed": "the video/audio hash statement is damaged, so the content cannot be checked",
    "assertion.boxesHash.malformed": "the data-box hash statement is damaged, so the content cannot be checked",
    "assertion.hashedURI.mismatch": "a statement in the manifest (for example the list of actions) was altered after signing",
    "assertion.missing": "a statement the signed claim lists is missing from the manifest",
    "assertion.undeclared": "the manifest contains a statement the signer did not sign",
    "assertion.inaccessible": "a statement stored outside the file could not be fetched",
    "assertion.notRedacted": "a statement declared as removed is still present",
    "assertion.selfRedacted": "a manifest tried to remove one of its own statements, which is not allowed",
    "assertion.required.missing": "a required field is missing from a statement in the manifest",
    "assertion.json.invalid": "a statement in the manifest is not valid JSON",
    "assertion.cbor.invalid": "a statement in the manifest is not valid CBOR data",
    "assertion.action.ingredientMismatch": "an action refers to a source file (ingredient) that cannot be found",
    "assertion.action.redacted": "the list of actions was removed from the manifest",
    "assertion.action.redactionMismatch": "an action describing a removal does not match what was removed",
    "assertion.action.malformed": "the list of actions in the manifest is malformed",
    "assertion.cloud-data.hardBinding": "the content hash was placed in cloud data, which is not allowed",
    "assertion.cloud-data.actions": "an update manifest refers to actions in cloud data, which is not allowed",
    "assertion.cloud-data.malformed": "a cloud-data statement is incomplete",
    "assertion.multipleHardBindings": "the manifest has more than one content hash, which is not allowed",
    "assertion.outsideManifest": "the signed claim refers to a statement stored in another manifest",
    "assertion.ingredient.malformed": "a source-file (ingredient) statement is incomplete",
    "assertion.metadata.disallowed": "the metadata statement contains fields the standard does not allow",
    "assertion.timestamp.malformed": "a timestamp statement in the manifest is damaged",
    "claim.malformed": "the signed claim is damaged and cannot be read",
    "claim.missing": "the signed claim is missing from the manifest",
    "claim.multiple": "the manifest has more than one claim, which is not allowed",
    "claim.hardBindings.missing": "the claim does not bind itself to the content, so changes to the content would go unnoticed",
    "claim.required.missing": "a required field is missing from the signed claim",
    "claim.cbor.invalid": "the signed claim is not valid CBOR data",
    "claimSignature.missing": "the signature over the manifest is missing",
    "claimSignature.mismatch": "the signature does not match the manifest: the manifest was altered after signing or the signature is forged",
    "hashedURI.missing": "data the manifest refers to cannot be found",
    "hashedURI.mismatch": "data the manifest refers to changed after signing",
    "ingredient.hashedURI.mismatch": "a source file's (ingredient's) manifest changed after it was recorded",
    "ingredient.manifest.missing": "the manifest of a source file (ingredient) is missing",
    "ingredient.manifest.mismatch": "the manifest of a source file (ingredient) changed after it was recorded",
    "ingredient.claimSignature.missing": "the signature of a source file's manifest (ingredient) is missing",
    "ingredient.claimSignature.mismatch": "the signature of a source file's manifest (ingredient) changed after it was recorded",
    "manifest.inaccessible": "the file points to Content Credentials stored online that could not be fetched",
    "manifest.multipleParents": "the manifest claims more than one parent file, which is not allowed",
    "manifest.update.invalid": "an update manifest contains statements it may not contain",
    "manifest.update.wrongParents": "an update manifest does not have exactly one parent file",
    "manifest.timestamp.invalid": "a timestamp manifest contains statements it may not contain",
    "manifest.timestamp.wrongParents": "a timestamp manifest does not have exactly one parent file",
    "manifest.compressed.invalid": "the compressed manifest is damaged",
    "algorithm.unsupported": "the manifest uses an unknown or unsupported algorithm, so it cannot be checked",
    "general.error": "the validator hit an error not covered by a specific code",
    # failure: the signing credential (who signed), not the content
    "signingCredential.untrusted": "the signing certificate is not on the trust list used for this check (anyone can make a certificate; this does not mean the content changed)",
    "signingCredential.invalid": "the signing certificate is not valid for signing Content Credentials",
    "signingCredential.ocsp.revoked": "the certificate authority has revoked the signing certificate",
    "signingCredential.ocsp.unknown": "the certificate authority reports an unknown status for the signing certificate",
    "signingCredential.revoked": "the signing certificate has been revoked",
    "signingCredential.expired": "the signing certificate had expired at the time it was checked (no trusted timestamp proves it was signed earlier)",
    "claimSignature.outsideValidity": "the manifest was signed outside the signing certificate's validity period",
}

# Codes that say "the content bytes changed after signing".
CONTENT_HASH_FAILURES = frozenset({
    "assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch",
    "assertion.boxesHash.unknownBox", "assertion.collectionHash.mismatch",
    "assertion.multiAssetHash.missingPart",
})
# Codes about the certificate (who signed), not about whether content or manifest changed.
CREDENTIAL_FAILURES = frozenset({
    "signingCredential.invalid", "signingCredential.ocsp.revoked", "signingCredential.ocsp.unknown",
    "signingCredential.revoked", "signingCredential.expired", "claimSignature.outsideValidity",
})
UNTRUSTED = "signingCredential.untrusted"
# Codes the specification classes as informational even if a validator lists them as failures.
INFORMATIONAL = frozenset({
    "signingCredential.ocsp.skipped", "signingCredential.ocsp.inaccessible", "timeStamp.mismatch",
    "timeStamp.malformed", "timeStamp.outsideValidity", "timeStamp.untrusted",
    "manifest.unknownProvenance", "manifest.unreferenced", "ingredient.unknownProvenance",
    "algorithm.deprecated", "timeOfSigning.insideValidity",
})

# IPTC digital source types (http://cv.iptc.org/newscodes/digitalsourcetype/) in plain words.
SOURCE_TYPE_PHRASES = {
    "digitalCapture": "captured by a camera or recorder",
    "computationalCapture": "captured by a device with built-in computational processing (e.g. phone night mode)",
    "negativeFilm": "scanned from a film negative",
    "positiveFilm": "scanned from positive film or a slide",
    "print": "scanned from a print",
    "humanEdits": "edited by a person with non-AI tools",
    "minorHumanEdits": "lightly edited by a person",
    "compositeCapture": "combined from several captures (e.g. HDR or panorama)",
    "algorithmicallyEnhanced": "enhanced by an algorithm without generating new content",
    "digitalCreation": "made by a person with software (drawing, 3D, design), not captured",
    "digitalArt": "made by a person with software (drawing, 3D, design), not captured",
    "dataDrivenMedia": "generated from data by a program written by a person (e.g. a chart)",
    "trainedAlgorithmicMedia": "created by an AI model",
    "compositeWithTrainedAlgorithmicMedia": "a composite that includes AI-generated elements",
    "algorithmicMedia": "generated by a computer algorithm rather than captured",
    "compositeSynthetic": "a composite that includes synthetic (generated) elements",
    "screenCapture": "a screenshot or screen recording",
    "virtualRecording": "recorded inside a virtual environment (e.g. a game)",
    "composite": "a composite of several elements",
}
AI_SOURCE_TYPES = frozenset({
    "trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia",
    "compositeSynthetic",
})

ACTION_PHRASES = {
    "c2pa.created": "created as new content",
    "c2pa.opened": "opened an existing file as the starting point",
    "c2pa.edited": "edited",
    "c2pa.edited.metadata": "metadata edited (content unchanged)",
    "c2pa.cropped": "cropped",
    "c2pa.resized": "resized",
    "c2pa.color_adjustments": "colour or tone adjusted",
    "c2pa.filtered": "a filter was applied",
    "c2pa.orientation": "rotated or flipped",
    "c2pa.drawing": "drawn or painted on",
    "c2pa.placed": "another element was placed into it",
    "c2pa.removed": "something was removed from it",
    "c2pa.redacted": "parts were redacted",
    "c2pa.converted": "converted to another format",
    "c2pa.transcoded": "re-encoded",
    "c2pa.repackaged": "repackaged without re-encoding",
    "c2pa.published": "published",
    "c2pa.managed": "handled by an asset-management system",
    "c2pa.watermarked": "a digital watermark was added",
    "c2pa.watermarked.bound": "a digital watermark linked to these credentials was added",
    "c2pa.translated": "translated",
    "c2pa.dubbed": "dubbed",
    "c2pa.produced": "produced",
    "c2pa.unknown": "changed in an unspecified way",
}
# Actions that do not change what the content shows.
NON_EDIT_ACTIONS = frozenset({
    "c2pa.created", "c2pa.opened", "c2pa.published", "c2pa.managed", "c2pa.repackaged",
    "c2pa.transcoded", "c2pa.converted", "c2pa.watermarked", "c2pa.watermarked.bound",
    "c2pa.edited.metadata", "c2pa.produced",
})

_JUMBF_C2PA = re.compile(rb"jumd[\s\S]{17}c2pa")


def explain_code(code: str) -> str:
    """One plain sentence for a C2PA status code (a generic one for unknown codes)."""
    if code in STATUS_CODE_MEANINGS:
        return STATUS_CODE_MEANINGS[code]
    return f"the validator reported '{code}', a status this tool does not know how to explain"


def source_type_name(value: Any) -> str | None:
    """'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' -> 'trainedAlgorithmicMedia'."""
    if isinstance(value, dict):
        value = value.get("@id") or value.get("url") or value.get("id")
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip().rstrip("/")
    return v.rsplit("/", 1)[-1] if "/" in v else v


def source_type_phrase(name: str | None) -> str | None:
    if not name:
        return None
    return SOURCE_TYPE_PHRASES.get(name, f"digital source type '{name}'")


class C2PADetector(Detector):
    name = "c2pa"
    version = "1.0.0"
    modalities = ("image", "video", "audio")
    requires = ("c2pa",)
    summary = "Reads and checks C2PA Content Credentials (a signed record of who made a file and how)."
    looks_at = ("The embedded C2PA manifest: its signature and certificate, the hash that binds it to "
                "the file's bytes, the declared actions (created, edited, AI-generated) and source files.")
    cannot_tell = ("A file without Content Credentials is not suspicious by itself: most files have "
                   "none, and credentials are easily stripped. A valid signature proves the file is "
                   "unchanged since signing and who held the key, not that the signer told the truth.")

    def applicable(self, media: Media) -> str | None:
        reason = super().applicable(media)
        if reason:
            return reason
        if media.format not in MIME_BY_FORMAT:
            return (f"Content Credentials cannot be embedded in or read from {media.format} files "
                    "by the c2pa library")
        return None

    # ------------------------------------------------------------------ analyze
    def analyze(self, media: Media, ctx: Context) -> Evidence:
        try:
            import c2pa
        except ImportError:
            return Evidence.not_applicable(self.name, self.version,
                                           "the c2pa-python library is not installed "
                                           "(pip install c2pa-python)")
        except Exception as e:  # a broken native library
            return Evidence.not_applicable(self.name, self.version,
                                           f"the c2pa library failed to load ({_short(e)})")
        reason = self.applicable(media)
        if reason:
            return Evidence.not_applicable(self.name, self.version, reason)

        ev = self.evidence()
        anchors_path = trust_anchors_path(ctx.opts(self.name).get("trust_anchors"))
        anchors_pem, anchor_problem = load_trust_anchors(anchors_path)
        if anchor_problem:
            ev.add("low", "c2pa_trust_anchors_unusable",
                   f"The configured trust anchors could not be used ({anchor_problem}), so no signer "
                   "can be shown as trusted.", path=str(anchors_path))

        try:
            store, crjson = media_store(media, anchors_pem)
        except c2pa.C2paError.ManifestNotFound:
            return self._absent(ev, media, None)
        except c2pa.C2paError.NotSupported as e:
            if _has_embedded_c2pa(media.path):
                return self._unreadable(ev, e)
            return Evidence.not_applicable(self.name, self.version,
                                           f"the c2pa library cannot read this {media.format} file "
                                           f"({_short(e)})")
        except c2pa.C2paError.RemoteManifest as e:
            return self._remote(ev, str(e))
        except c2pa.C2paError as e:
            if _has_embedded_c2pa(media.path):
                return self._unreadable(ev, e)
            return self._absent(ev, media, e)
        except (OSError, ValueError, KeyError, TypeError) as e:
            return Evidence.failed(self.name, self.version, f"could not read Content Credentials: "
                                                           f"{_short(e)}")
        return self._judge(ev, media, store, crjson, trust_configured=anchors_pem is not None)

    # ------------------------------------------------------------------ outcomes
    def _absent(self, ev: Evidence, media: Media, err) -> Evidence:
        ev.score = SCORE_NOTHING_FOUND
        ev.label = "no_evidence"
        ev.data["summary"] = {"manifest_present": False}
        if err is not None:
            ev.data["summary"]["reader_note"] = (
                f"the c2pa library could not parse the file ({_short(err)}); no embedded "
                "Content Credentials were found in its bytes either")
        ev.add("info", "c2pa_absent",
               "This file carries no Content Credentials (C2PA); that is normal for most files and "
               "says nothing about whether it was edited or generated.")
        return ev

    def _unreadable(self, ev: Evidence, err) -> Evidence:
        ev.score = None
        ev.label = "inconclusive"
        ev.data["summary"] = {"manifest_present": True, "readable": False, "error": _short(err)}
        ev.add("medium", "c2pa_unreadable",
               "The file contains Content Credentials data, but it is damaged or the file is "
               "truncated, so it cannot be checked.", error=_short(err))
        return ev

    def _remote(self, ev: Evidence, msg: str) -> Evidence:
        ev.score = None
        ev.label = "inconclusive"
        ev.data["summary"] = {"manifest_present": True, "remote": True, "error": msg[:300]}
        ev.add("info", "c2pa_remote_manifest",
               "The file points to Content Credentials stored online; they were not fetched "
               "(checks run offline), so nothing could be verified.", error=msg[:300])
        return ev

    def _judge(self, ev: Evidence, media: Media, store: dict, crjson: dict | None,
               trust_configured: bool) -> Evidence:
        summary = summarize_store(store, crjson)
        summary["trust_anchors_configured"] = trust_configured
        if not summary.get("format"):
            summary["format"] = MIME_BY_FORMAT.get(media.format)
        ev.data["summary"] = summary
        state = summary.get("validation_state")
        failures = summary.get("failures", [])
        active_codes = {f["code"] for f in failures if f["scope"] == "active manifest"}
        ingredient_codes = {f["code"] for f in failures if f["scope"] != "active manifest"}
        content = sorted(active_codes & CONTENT_HASH_FAILURES)
        credential = sorted(active_codes & CREDENTIAL_FAILURES)
        structural = sorted(active_codes - CONTENT_HASH_FAILURES - CREDENTIAL_FAILURES
                            - INFORMATIONAL - {UNTRUSTED})
        ingredient_bad = sorted(ingredient_codes - INFORMATIONAL - {UNTRUSTED})
        if state == "Invalid" and not (content or credential or structural or ingredient_bad):
            structural = ["general.error"]  # library says invalid without a code we recognise
        ai = summary.get("ai_declarations", [])
        edits = summary.get("declared_edits", [])
        who = _signer_phrase(summary)
        gen = summary.get("claim_generator") or "unnamed software"
        ev.data["validation_state"] = state
        ev.data["failure_codes"] = sorted(active_codes | ingredient_codes)

        ev.add("info", "c2pa_present",
               f"Content Credentials found: signed by {who}, claim made by {gen}; validation "
               f"state {state or 'unknown'}.", validation_state=state,
               claim_generator=summary.get("claim_generator"), signer=summary.get("signer"))

        if content or structural:
            codes = content + structural
            meaning = "; ".join(f"{c}: {explain_code(c)}" for c in codes)
            ev.label = "manipulated"
            if content:
                ev.score = SCORE_CONTENT_CHANGED
                ev.add("high", "c2pa_content_changed",
                       "The file was changed after its Content Credentials were signed: "
                       + explain_code(content[0]) + " (by an edit, or by damage such as "
                       "truncation).", codes=codes, explained=meaning)
            else:
                ev.score = SCORE_INVALID
                ev.add("high", "c2pa_invalid",
                       "The Content Credentials fail validation (" + explain_code(structural[0])
                       + "), so the manifest was altered, forged or damaged.",
                       codes=codes, explained=meaning)
            if ai:
                ev.add("medium", "c2pa_ai_declared_unverified",
                       f"The broken credentials also declare the content {ai[0]['phrase']}, but "
                       "that statement cannot be verified.", declarations=ai)
            return ev

        if credential:
            meaning = "; ".join(f"{c}: {explain_code(c)}" for c in credential)
            ev.add("medium", "c2pa_credential_problem",
                   f"The file and manifest are unchanged since signing, but the signing "
                   f"certificate has a problem ({explain_code(credential[0])}), so it cannot "
                   "vouch for who signed.", codes=credential, explained=meaning)
            if ai:
                ev.score = SCORE_AI_DECLARED_CREDENTIAL_PROBLEM
                ev.label = "synthetic"
                ev.add("high", "c2pa_ai_declared", _ai_message(ai, summary), declarations=ai)
            else:
                ev.score = None
                ev.label = "inconclusive"
            return ev

        # Valid or Trusted from here on.
        if state == "Trusted":
            ev.add("info", "c2pa_trusted",
                   f"The signer ({who}) chains to a configured trust anchor.")
        elif trust_configured:
            ev.add("low", "c2pa_untrusted_signer",
                   f"The signature is valid, but the signer ({who}) is not on the configured trust "
                   "list; anyone can create such a certificate, so the identity is unconfirmed.")
        else:
            ev.add("info", "c2pa_untrusted_signer",
                   f"The signature is valid, but no trust list is configured, so the signer's "
                   f"identity ({who}) is unconfirmed; anyone can create such a certificate.")
        if ingredient_bad:
            meaning = "; ".join(f"{c}: {explain_code(c)}" for c in ingredient_bad)
            ev.add("medium", "c2pa_ingredient_invalid",
                   "The Content Credentials of a source file used to make this one do not "
                   "validate, so the earlier history cannot be trusted.",
                   codes=ingredient_bad, explained=meaning)

        if ai:
            ev.score = SCORE_AI_DECLARED
            ev.label = "synthetic"
            ev.add("high", "c2pa_ai_declared", _ai_message(ai, summary), declarations=ai)
        elif edits:
            ev.score = SCORE_EDITS_DECLARED
            ev.label = "manipulated"
            names = ", ".join(sorted({e["action"] for e in edits}))
            ev.add("low", "c2pa_edits_declared",
                   f"The credentials openly declare edits ({names}); declared editing is normal "
                   "and not a sign of deception.", edits=edits)
        else:
            ev.score = SCORE_NOTHING_FOUND
            ev.label = "inconclusive" if ingredient_bad else "no_evidence"
            ev.add("info", "c2pa_valid",
                   "The Content Credentials are valid and declare no AI generation and no edits.")
        return ev


# ---------------------------------------------------------------------- reading
def _has_embedded_c2pa(path: Path, chunk: int = 1 << 22) -> bool:
    """True when the file's bytes contain a JUMBF description box labelled 'c2pa'."""
    try:
        with open(path, "rb") as fh:
            tail = b""
            while True:
                buf = fh.read(chunk)
                if not buf:
                    return False
                if _JUMBF_C2PA.search(tail + buf):
                    return True
                tail = buf[-32:]
    except OSError:
        return False


# ---------------------------------------------------------------------- summary
def summarize_store(store: dict, crjson: dict | None = None) -> dict:
    """Plain-language summary of a c2pa manifest store (Reader.json() parsed)."""
    manifests = store.get("manifests") or {}
    if not isinstance(manifests, dict):
        manifests = {}
    label = store.get("active_manifest")
    if not isinstance(label, str):
        label = None  # a label is a string; anything else names no manifest
    m = manifests.get(label) if label is not None else None
    if not isinstance(m, dict):
        m = {}
    cert = _cert_info(crjson, label)
    sig = m.get("signature_info") if isinstance(m.get("signature_info"), dict) else {}
    signer = {
        "common_name": _dict(cert.get("subject")).get("CN") or sig.get("common_name"),
        "organization": _dict(cert.get("subject")).get("O") or sig.get("issuer"),
        "issuer_common_name": _dict(cert.get("issuer")).get("CN"),
        "issuer_organization": _dict(cert.get("issuer")).get("O"),
        "serial_number": cert.get("serialNumber") or sig.get("cert_serial_number"),
        "not_before": _dict(cert.get("validity")).get("notBefore"),
        "not_after": _dict(cert.get("validity")).get("notAfter"),
        "algorithm": sig.get("alg"),
    }
    signing_time = sig.get("time")
    actions = _actions(m)
    ai = _ai_declarations(m, manifests, label)
    edits = [a for a in actions if a["action"] not in NON_EDIT_ACTIONS]
    ingredients = [_ingredient(i, manifests) for i in _list(m.get("ingredients"))
                   if isinstance(i, dict)]
    for ing in ingredients:  # edits declared earlier in the history
        for a in ing.get("declared_edits", []):
            edits.append({**a, "in_ingredient": ing.get("title")})
    state = store.get("validation_state")
    state = state if isinstance(state, str) else None  # written by the library, or forged
    failures = _failures(store)
    return {
        "manifest_present": True,
        "active_manifest": label,
        "manifest_count": len(manifests),
        "signer": signer,
        "signed_by": _signer_phrase({"signer": signer}),
        "signing_time": signing_time,
        "signing_time_note": None if signing_time else
        "no trusted timestamp: the signing time is not proven",
        "claim_generator": _claim_generator(m),
        "title": m.get("title"),
        "format": m.get("format"),
        "actions": actions,
        "ingredients": ingredients,
        "ai_declarations": ai,
        "declared_edits": edits,
        "validation_state": state,
        "signer_trusted": state == "Trusted",
        "validation_state_meaning": {
            "Trusted": "intact since signing, and the signer chains to a configured trust anchor",
            "Valid": "intact since signing, but the signer is not on a trust list",
            "Invalid": "the credentials fail validation (see failures)",
        }.get(state),
        "failures": failures,
        "failure_explanations": {f["code"]: f["meaning"] for f in failures},
    }


def _cert_info(crjson: dict | None, label) -> dict:
    try:
        for man in (crjson or {}).get("manifests", []):
            if isinstance(man, dict) and man.get("label") == label:
                info = (man.get("signature") or {}).get("certificateInfo") or {}
                return info if isinstance(info, dict) else {}
    except (AttributeError, TypeError):
        pass
    return {}


def _claim_generator(m: dict) -> str | None:
    info = m.get("claim_generator_info")
    if isinstance(info, dict):
        info = [info]
    if isinstance(info, list):
        parts = []
        for g in info:
            if isinstance(g, dict) and g.get("name"):
                parts.append(f"{g['name']} {g['version']}" if g.get("version") else str(g["name"]))
        if parts:
            return ", ".join(parts)
    cg = m.get("claim_generator")
    return str(cg) if cg else None


def _agent_name(agent) -> str | None:
    if isinstance(agent, dict):
        name = agent.get("name")
        if name and agent.get("version"):
            return f"{name} {agent['version']}"
        return str(name) if name else None
    return str(agent) if agent else None


def _actions(m: dict) -> list[dict]:
    out = []
    for a in _list(m.get("assertions")):
        if not isinstance(a, dict) or not str(a.get("label", "")).startswith("c2pa.actions"):
            continue
        data = a.get("data") if isinstance(a.get("data"), dict) else {}
        for act in _list(data.get("actions")):
            if not isinstance(act, dict):
                continue
            name = str(act.get("action") or "unknown")
            dst = source_type_name(act.get("digitalSourceType"))
            params = act.get("parameters") if isinstance(act.get("parameters"), dict) else {}
            out.append({
                "action": name,
                "meaning": ACTION_PHRASES.get(name, f"action '{name}'"),
                "when": act.get("when"),
                "softwareAgent": _agent_name(act.get("softwareAgent")),
                "digitalSourceType": dst,
                "digitalSourceType_meaning": source_type_phrase(dst),
                "description": act.get("description") or params.get("description"),
            })
    return out


MAX_JSON_DEPTH = 64
"""Nesting depth of assertion data searched for source types (real manifests nest a few
levels; the cap keeps a hostile store from exhausting the interpreter's stack)."""


def _walk_source_types(obj, path="", depth=0):
    """Yield (json path, source type name) for every digitalSourceType-like field."""
    if depth > MAX_JSON_DEPTH:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}" if path else str(k)
            if str(k).lower().split(":")[-1] == "digitalsourcetype":
                vals = v if isinstance(v, list) else [v]
                for item in vals:
                    n = source_type_name(item)
                    if n:
                        yield p, n
            else:
                yield from _walk_source_types(v, p, depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk_source_types(v, f"{path}[{i}]", depth + 1)


def _ai_declarations(m: dict, manifests: dict, label, seen=None, where="active manifest"):
    """AI/synthetic source types declared in this manifest or its ingredients' manifests
    (depth first, each manifest once; iterative, so a long chain of ingredients cannot
    exhaust the stack)."""
    seen = set() if seen is None else seen
    out = []
    todo = [(m, label, where)]
    while todo:
        m, label, where = todo.pop()
        if label in seen:
            continue
        seen.add(label)
        agents = {a.get("digitalSourceType"): a.get("softwareAgent") for a in _actions(m)}
        for p, n in _walk_source_types(m.get("assertions") or [], "assertions"):
            if n in AI_SOURCE_TYPES:
                out.append({"source_type": n, "phrase": SOURCE_TYPE_PHRASES[n], "where": where,
                            "field": p, "software_agent": agents.get(n),
                            "claim_generator": _claim_generator(m)})
        subs = []
        for ing in _list(m.get("ingredients")):
            if not isinstance(ing, dict):
                continue
            sub = ing.get("active_manifest")
            if isinstance(sub, str) and isinstance(manifests.get(sub), dict):
                subs.append((manifests[sub], sub, f"ingredient '{ing.get('title')}'"))
        todo.extend(reversed(subs))  # popped in the order the ingredients are listed
    # de-duplicate identical declarations
    uniq, keys = [], set()
    for d in out:
        k = (d["source_type"], d["where"], d["field"])
        if k not in keys:
            keys.add(k)
            uniq.append(d)
    return uniq


def _ingredient(ing: dict, manifests: dict) -> dict:
    label = ing.get("active_manifest")
    if not label and isinstance(ing.get("manifest_data"), dict):
        label = ing["manifest_data"].get("identifier")
    sub = manifests.get(label) if isinstance(label, str) else None
    codes = []
    vr = ing.get("validation_results")
    if isinstance(vr, dict):
        codes = [s.get("code") for s in _list(_dict(vr.get("activeManifest")).get("failure"))
                 if isinstance(s, dict)]
    elif isinstance(ing.get("validation_status"), list):
        codes = [s.get("code") for s in ing["validation_status"] if isinstance(s, dict)]
    problems = sorted({c for c in codes if isinstance(c, str) and c and c not in INFORMATIONAL
                       and c != UNTRUSTED})
    d = {
        "title": ing.get("title"),
        "format": ing.get("format"),
        "relationship": ing.get("relationship"),
        "has_own_manifest": bool(label),
        "manifest_label": label,
        "problems_when_recorded": {c: explain_code(c) for c in problems},
    }
    if isinstance(sub, dict):
        acts = _actions(sub)
        d["claim_generator"] = _claim_generator(sub)
        d["actions"] = [a["action"] for a in acts]
        d["declared_edits"] = [a for a in acts if a["action"] not in NON_EDIT_ACTIONS]
    return d


def _failures(store: dict) -> list[dict]:
    out = []
    vr = store.get("validation_results")
    if isinstance(vr, dict):
        # every level is written by whoever made the file: take only the shapes expected
        for s in _list(_dict(vr.get("activeManifest")).get("failure")):
            if isinstance(s, dict) and s.get("code"):
                out.append(_failure(s, "active manifest"))
        for delta in _list(vr.get("ingredientDeltas")):
            if not isinstance(delta, dict):
                continue
            where = f"ingredient {delta.get('ingredientAssertionURI', '?')}"
            for s in _list(_dict(delta.get("validationDeltas")).get("failure")):
                if isinstance(s, dict) and s.get("code"):
                    out.append(_failure(s, where))
    elif isinstance(store.get("validation_status"), list):  # older library output
        for s in store["validation_status"]:
            if isinstance(s, dict) and s.get("code"):
                out.append(_failure(s, "active manifest"))
    return out


def _failure(s: dict, scope: str) -> dict:
    code = str(s["code"])
    return {"code": code, "meaning": explain_code(code), "scope": scope,
            "library_explanation": s.get("explanation"), "url": s.get("url")}


def _signer_phrase(summary: dict) -> str:
    s = summary.get("signer") or {}
    cn, org = s.get("common_name"), s.get("organization")
    who = cn or org or "an unnamed signer"
    if cn and org and org != cn:
        who = f"{cn} ({org})"
    issuer = s.get("issuer_common_name") or s.get("issuer_organization")
    if issuer:
        who += f", certificate issued by {issuer}"
    return who


def _ai_message(ai: list[dict], summary: dict) -> str:
    d = ai[0]
    gen = d.get("software_agent") or d.get("claim_generator") or summary.get("claim_generator")
    where = "" if d["where"] == "active manifest" else f" (declared for {d['where']})"
    by = f" by {gen}" if gen else ""
    return (f"The signed Content Credentials declare this content {d['phrase']}{where}; the "
            f"declaration was made{by} (source type {d['source_type']}).")


