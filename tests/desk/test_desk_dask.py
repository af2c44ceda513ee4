"""``--engine dask``: the analysis runs on a Dask cluster (a LocalCluster here), the queue and
results stay in the desk; reports identical to the local engine."""

import json
import os

import pytest
from helpers import strip_timings

pytest.importorskip("distributed")


def test_dask_engine_gives_the_local_reports(tmp_path, put, jpeg):
    from veriscope.desk.store import Store
    from veriscope.desk.worker import Worker
    from veriscope.pipeline.engine import make_engine

    reports = {}
    for engine_name in ("local", "dask"):
        store = Store(tmp_path / engine_name)
        cid = store.create_case("c", "t")
        ids = [put(store, cid, jpeg(i), name=f"{i}.jpg")["id"] for i in range(2)]
        for i in ids:  # the stored copies' file times are in the report (metadata): the same
            os.utime(store.blob_path(store.item(i)["sha256"]), (1_700_000_000, 1_700_000_000))
        engine = make_engine("dask", scheduler="local", workers=1) if engine_name == "dask" else None
        try:
            w = Worker(store, "w", detectors="metadata,noise", engine=engine)
            while w.run_one():
                pass
        finally:
            if engine is not None:
                engine.close()
        reports[engine_name] = [strip_timings(json.loads(
            (store.root / store.item(i)["report_dir"] / "report.json").read_text())) for i in ids]
        assert all(store.item(i)["state"] == "done" for i in ids)
    assert reports["local"] == reports["dask"]
