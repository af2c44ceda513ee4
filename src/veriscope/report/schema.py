"""JSON Schema of the report (``veriscope.report/1``). `veriscope schema` prints it.

Stability promise: within ``veriscope.report/1`` fields are only ever added,
never renamed or removed, and the meaning of existing fields does not change.

Additions: ``post`` (issue 22, versioned on its own as ``post/1``: the caption of a post checked
against the picture; present only for an input that came with a caption).
"""

from __future__ import annotations

from veriscope.core.evidence import EVIDENCE_LABELS, SEVERITIES
from veriscope.core.fusion import BAND_WORDS, BASES, VERDICT_LABELS
from veriscope.core.media import KINDS
from veriscope.core.post import CLAIM_STATUSES, POST_LABELS, POST_VERSION
from veriscope.report.document import SCHEMA_ID

_num01 = {"type": "number", "minimum": 0, "maximum": 1}
_opt_num01 = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_opt_num = {"type": ["number", "null"]}
_opt_str = {"type": ["string", "null"]}

_finding = {
    "type": "object",
    "required": ["severity", "code", "message", "data"],
    "properties": {
        "severity": {"enum": list(SEVERITIES)},
        "code": {"type": "string", "pattern": "^[a-z0-9_.]+$"},
        "message": {"type": "string"},
        "data": {"type": "object"},
    },
    "additionalProperties": False,
}

_segment = {
    "type": "object", "required": ["start", "end"],
    "properties": {"start": {"type": "number", "minimum": 0}, "end": {"type": "number", "minimum": 0},
                   "score": _opt_num01, "label": _opt_str},
    "additionalProperties": False,
}

_box = {
    "type": "object", "required": ["x", "y", "w", "h"],
    "properties": {"x": {"type": "integer"}, "y": {"type": "integer"},
                   "w": {"type": "integer", "minimum": 0}, "h": {"type": "integer", "minimum": 0},
                   "score": _opt_num01, "label": _opt_str, "time": _opt_num},
    "additionalProperties": False,
}

_token = {
    "type": "object", "required": ["start", "end", "text"],
    "properties": {"start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
                   "text": {"type": "string"}, "score": _opt_num01, "label": _opt_str},
    "additionalProperties": False,
}

_map_ref = {
    "type": ["object", "null"],
    "required": ["path", "width", "height"],
    "properties": {"path": _opt_str, "width": {"type": "integer", "minimum": 1},
                   "height": {"type": "integer", "minimum": 1},
                   "mean": _opt_num01, "max": _opt_num01},
    "additionalProperties": False,
}

_evidence = {
    "type": "object",
    "required": ["name", "version", "applicable", "reason", "score", "label", "heatmap", "segments",
                 "boxes", "tokens", "findings", "data", "views", "elapsed_s", "error"],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "version": {"type": "string"},
        "applicable": {"type": "boolean"},
        "reason": _opt_str,
        "score": _opt_num01,
        "label": {"enum": [*EVIDENCE_LABELS, None]},
        "heatmap": _map_ref,
        "segments": {"type": "array", "items": _segment},
        "boxes": {"type": "array", "items": _box},
        "tokens": {"type": "array", "items": _token},
        "findings": {"type": "array", "items": _finding},
        "data": {"type": "object"},
        "views": {"type": "array", "items": {
            "type": "object", "required": ["name", "path", "width", "height"],
            "properties": {"name": {"type": "string", "pattern": "^[a-z0-9_]+$"}, "path": _opt_str,
                           "width": {"type": "integer", "minimum": 1},
                           "height": {"type": "integer", "minimum": 1}},
            "additionalProperties": False}},
        "elapsed_s": {"type": ["number", "null"], "minimum": 0},
        "error": _opt_str,
    },
    "additionalProperties": False,
}

_verdict = {
    "type": "object",
    "required": ["label", "score", "band", "band_text", "summary", "drivers", "checked", "failed"],
    "properties": {
        "label": {"enum": list(VERDICT_LABELS)},
        "score": _opt_num01,
        "band": {"enum": list(BAND_WORDS)},
        "band_text": {"type": "string"},
        "summary": {"type": "string", "minLength": 1},
        "drivers": {"type": "array", "items": {
            "type": "object", "required": ["detector", "code", "severity", "message"],
            "properties": {"detector": {"type": "string"}, "code": {"type": "string"},
                           "severity": {"enum": list(SEVERITIES)}, "message": {"type": "string"}}}},
        "checked": {"type": "array", "items": {"type": "string"}},
        "failed": {"type": "array", "items": {"type": "string"}},
        "basis": {"enum": list(BASES)},
        "headline": {"type": "string"},
        "also": {"type": "array", "items": {
            "type": "object", "required": ["detector", "label", "score", "message"],
            "properties": {"detector": {"type": "string"}, "label": {"type": ["string", "null"]},
                           "score": {"type": "number", "minimum": 0, "maximum": 1},
                           "message": {"type": "string"}}}},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "limits": {"type": "array", "items": {"type": "string"}},
        "confidence": {"type": "object", "properties": {
            "groups": {"type": "integer", "minimum": 0},
            "stability": {"enum": ["not_run", "held", "mixed", "fragile"]},
            "effect": {"enum": ["none", "band_lowered"]}}},
    },
    "additionalProperties": False,
}

_media = {
    "type": "object",
    "required": ["path", "name", "kind", "format", "sha256", "size_bytes", "warnings"],
    "properties": {
        "path": {"type": "string"}, "name": {"type": "string"},
        "kind": {"enum": list(KINDS)}, "format": {"type": "string"},
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "size_bytes": {"type": "integer", "minimum": 1},
        "width": {"type": "integer", "minimum": 1}, "height": {"type": "integer", "minimum": 1},
        "mode": {"type": "string"}, "n_frames": {"type": "integer", "minimum": 1},
        "duration": {"type": "number", "minimum": 0},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}

_claim_check = {
    "type": "object", "required": ["detector", "status", "why"],
    "properties": {"detector": {"type": "string"}, "status": {"enum": list(CLAIM_STATUSES)},
                   "why": {"type": "string"}, "fact": {"type": ["object", "null"]},
                   "score": _opt_num01,
                   "words": {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0}}},
    "additionalProperties": False,
}

_claim = {
    "type": "object",
    "required": ["kind", "text", "start", "end", "words", "source", "status", "checks", "score"],
    "properties": {
        "kind": {"type": "string"}, "text": {"type": "string"},
        "start": {"type": ["integer", "null"], "minimum": 0},
        "end": {"type": ["integer", "null"], "minimum": 0},
        "words": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "source": {"enum": ["caption", "claimed_date", "claimed_place"]},
        "status": {"enum": list(CLAIM_STATUSES)},
        "checks": {"type": "array", "items": _claim_check},
        "score": _opt_num01,
    },
    "additionalProperties": False,
}

_post = {
    "type": "object",
    "description": "Present only when the input came with a caption (docs/posts.md). The image "
                   "verdict does not depend on it.",
    "required": ["version", "caption", "date", "place", "source", "label", "score", "summary",
                 "claims", "checked_by", "failed", "words", "fake_cls", "fake_image_box",
                 "fake_text_pos", "evidence", "opinions", "opinion_errors"],
    "properties": {
        "version": {"const": POST_VERSION},
        "caption": {"type": "string", "minLength": 1},
        "date": _opt_str, "place": _opt_str, "source": _opt_str,
        "label": {"enum": list(POST_LABELS)},
        "score": _opt_num01,
        "summary": {"type": "string", "minLength": 1},
        "claims": {"type": "array", "items": _claim},
        "checked_by": {"type": "array", "items": {"type": "string"}},
        "failed": {"type": "array", "items": {"type": "string"}},
        "words": {"type": "array", "items": {"type": "array", "minItems": 2, "maxItems": 2,
                                             "items": {"type": "integer", "minimum": 0}}},
        "fake_cls": {"type": "array", "minItems": 1, "items": {"enum": [
            "orig", "text_swap", "text_attribute", "image_manipulated", "image_synthetic"]}},
        "fake_image_box": {"type": "array", "items": {
            "type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "integer"}}},
        "fake_text_pos": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "evidence": {"type": "array", "items": _evidence},
        "opinions": {"type": "array", "items": {
            "type": "object",
            "required": ["detector", "model", "text", "start", "end", "words", "verdict",
                         "region", "reason", "note", "evidence_status"],
            "properties": {
                "detector": {"type": "string"}, "model": _opt_str, "text": {"type": "string"},
                "start": {"type": "integer", "minimum": 0}, "end": {"type": "integer", "minimum": 0},
                "words": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "verdict": {"enum": ["supported", "contradicted", "cannot_tell"]},
                "region": {"type": ["array", "null"], "minItems": 4, "maxItems": 4,
                           "items": {"type": "integer"}},
                "reason": {"type": "string"}, "note": _opt_str,
                "evidence_status": {"enum": [*CLAIM_STATUSES, None]}},
            "additionalProperties": False}},
        "opinion_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}

REPORT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://veriscope.invalid/schema/report-1.json",
    "title": "veriscope report",
    "description": "One analysed input: what it is, what each detector found, and the fused verdict. "
                   "Scores are in [0, 1]; higher means more likely manipulated or synthetic.",
    "type": "object",
    "required": ["schema", "tool", "created", "media", "verdict", "evidence", "fused_map",
                 "detectors_requested", "elapsed_s"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "tool": {"type": "object", "required": ["name", "version"],
                 "properties": {"name": {"const": "veriscope"}, "version": {"type": "string"}}},
        "created": {"type": "string", "format": "date-time"},
        "media": _media,
        "verdict": _verdict,
        "evidence": {"type": "array", "items": _evidence},
        "fused_map": _map_ref,
        "detectors_requested": {"type": "array", "items": {"type": "string"}},
        "elapsed_s": {"type": "number", "minimum": 0},
        "post": _post,
    },
    "additionalProperties": False,
}


def validate(report: dict) -> None:
    """Raise jsonschema.ValidationError if ``report`` does not follow the schema."""
    import jsonschema

    jsonschema.validate(report, REPORT_SCHEMA, cls=jsonschema.Draft202012Validator)
