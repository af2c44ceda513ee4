"""Every value of a C2PA manifest store replaced by a value of another type.

The store is JSON written by whoever made the file (the c2pa library returns what the signer
put there), so every level may hold any type. A real store (a JPEG signed here by
``veriscope.synth.c2pa_sign``, as the fuzz seeds are), enriched with the parts a plain signature
lacks (an ingredient with its own manifest and validation results, validation failures), has
each of its values replaced in turn by None, a number, a string, an empty or non-empty list or
object; the c2pa detector's judgement and caption_facts' reading of the store must return, never
raise. The CI fuzz pass found one such crash (an ``activeManifest`` string: docs/robustness.md);
this test walks every path systematically.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("c2pa")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fuzz"))
import run as fuzz_run  # noqa: E402  (fuzz/run.py: the seeds of the c2pa target)

from veriscope.core.media import Media  # noqa: E402
from veriscope.detectors.post.c2pa_facts import facts_from_store  # noqa: E402
from veriscope.detectors.provenance import c2pa as C  # noqa: E402

VALUES = [None, 1, 1.5, True, "x", [], {}, [1], ["x"], [{}], {"a": 1}, {"code": 1}]


def _store() -> dict:
    store = json.loads(fuzz_run._c2pa_seeds()["store_json"])
    label = store["active_manifest"]
    m = store["manifests"][label]
    store["manifests"]["urn:c2pa:ingredient"] = copy.deepcopy(m)
    m["ingredients"] = [{
        "title": "a.jpg", "format": "image/jpeg", "relationship": "parentOf",
        "active_manifest": "urn:c2pa:ingredient",
        "manifest_data": {"identifier": "urn:c2pa:ingredient"},
        "validation_results": {"activeManifest": {"failure": [
            {"code": "assertion.hashedURI.mismatch"}]}},
        "validation_status": [{"code": "x"}]}]
    m["signature_info"] = {"alg": "Es256", "issuer": "o", "common_name": "c", "time": "2024",
                           "cert_serial_number": "1"}
    store["validation_state"] = "Invalid"
    store["validation_results"] = {
        "activeManifest": {"failure": [{"code": "claimSignature.mismatch", "explanation": "e",
                                        "url": "u"}], "success": [], "informational": []},
        "ingredientDeltas": [{"ingredientAssertionURI": "self#jumbf=x",
                              "validationDeltas": {"failure": [{"code": "c"}]}}]}
    store["validation_status"] = [{"code": "x"}]
    return store


def _paths(o, p=()):
    yield p
    if isinstance(o, dict):
        for k, v in o.items():
            yield from _paths(v, (*p, k))
    elif isinstance(o, list):
        for i, v in enumerate(o):
            yield from _paths(v, (*p, i))


def _replaced(o, path, value):
    o = copy.deepcopy(o)
    t = o
    for k in path[:-1]:
        t = t[k]
    t[path[-1]] = value
    return o


def test_any_shape_of_the_store_is_judged_without_raising():
    store = _store()
    label = store["active_manifest"]
    crjson = {"manifests": [{"label": label, "signature": {"certificateInfo": {
        "subject": {"CN": "a"}, "issuer": {"O": "b"}, "validity": {"notBefore": "x"}}}}]}
    det = C.C2PADetector()
    media = Media(path=Path("unused.jpg"), kind="image", format="jpeg", size_bytes=10)
    cases = [(_replaced(store, p, v), crjson) for p in list(_paths(store))[1:] for v in VALUES]
    cases += [(store, _replaced(crjson, p, v)) for p in list(_paths(crjson))[1:] for v in VALUES]
    assert len(cases) > 1000
    for s, cr in cases:
        for trusted in (False, True):
            ev = det._judge(det.evidence(), media, s, cr, trust_configured=trusted)
            json.dumps(ev.data, allow_nan=False, default=str)
        facts_from_store(s)
