"""Fixtures of the desk tests: a data folder, small media, an app with a key."""

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")


def _jpeg(seed: int = 0, size=(96, 128), quality: int = 90) -> bytes:
    rng = np.random.default_rng(seed)
    a = (rng.random((size[0], size[1], 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture
def store(tmp_path):
    from veriscope.desk.store import Store

    return Store(tmp_path / "desk")


@pytest.fixture
def jpeg():
    """jpeg(seed, size=(h, w), quality) -> bytes of a noise picture."""
    return _jpeg


def _put(store, case_id: int, data: bytes, name: str = "x.jpg", **kw) -> dict:
    import hashlib

    tmp = store.new_tmp()
    tmp.write_bytes(data)
    return store.add_item(case_id, tmp, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                          name=name, actor="test", **kw)


@pytest.fixture
def put():
    """put(store, case_id, data, name=...) adds an item as an upload would."""
    return _put


@pytest.fixture
def make_client(tmp_path):
    """make_client(detectors="metadata,jpeg_tables") -> (TestClient, API key headers, store)
    over a fresh desk running those detectors; closed after the test."""
    from contextlib import ExitStack

    from fastapi.testclient import TestClient

    from veriscope.desk.app import Limits, create_app

    with ExitStack() as stack:
        def make(detectors: str = "metadata,jpeg_tables"):
            app = create_app(tmp_path / "desk", limits=Limits(max_bytes=400_000,
                                                              max_pixels=1_000_000,
                                                              max_seconds=5.0),
                             detectors=detectors)
            key = app.state.store.add_key("tester")
            c = stack.enter_context(TestClient(app))
            return c, {"X-API-Key": key}, app.state.store

        yield make


@pytest.fixture
def client(make_client):
    """(TestClient, API key headers, store) over a fresh desk with cheap detectors."""
    return make_client()


def _resign(bag) -> None:
    """Save a changed bag's manifests again and sign it with a new, untrusted key (whoever holds
    a key can do this: verification must still find what changed)."""
    import base64

    import bagit
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from veriscope.desk import bundle

    bagit.Bag(str(bag)).save(manifests=True)
    other = Ed25519PrivateKey.generate()
    tm = (bag / "tagmanifest-sha256.txt").read_bytes()
    (bag / "signature.ed25519").write_bytes(base64.b64encode(other.sign(tm)) + b"\n")
    (bag / "signer.pub").write_bytes(bundle.public_pem(other.public_key()))


@pytest.fixture
def resign():
    """resign(bag): the bag's manifests saved again and signed by a new, untrusted key."""
    return _resign


def start_serve(data, *args, log=None, wait_s: float = 20.0):
    """`veriscope serve --data DATA --port <free> *args` in a process of its own; returns
    (process, base URL) once /api/v1/health answers (fails the test otherwise)."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "veriscope.cli", "serve", "--data", str(data),
                             "--port", str(port), *args],
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the desk did not start")


@pytest.fixture(scope="session")
def serve():
    """serve(data, *args, log=file) -> (process, base URL); see start_serve."""
    return start_serve
