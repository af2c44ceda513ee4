"""Where per-item work runs: this process, a local process pool, or Dask.

An engine has one job: ``map(fn, items)`` -> results in the order of ``items``. ``fn`` is a
module-level function (the bench runner's per-record worker, the perturbation worker, the
per-file worker of :mod:`veriscope.pipeline.scan`) and the items are plain picklable tuples or
dataclasses, so every engine computes exactly the same thing; only where it runs differs.
Workers write their heavy output to disk (the bench cache, a scan's report folders) and send
back small results, so with Dask every worker must see the input files and the output folder
at the same paths as the client (a shared filesystem), and must have veriscope (and the
detectors' dependencies) installed.

>>> with make_engine("local", workers=4) as eng:
...     results = list(eng.map(fn, items))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

ENGINES = ("local", "dask")


class Engine:
    name = "base"

    def map(self, fn: Callable, items: Iterable) -> Iterator:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def describe(self) -> dict:
        return {"engine": self.name}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class LocalEngine(Engine):
    """``workers == 1``: runs in this process; more: a ``ProcessPoolExecutor`` (kept open
    across ``map`` calls until :meth:`close`)."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))
        self._pool = None

    def map(self, fn, items):
        items = list(items)
        if self.workers == 1 or len(items) <= 1:
            return map(fn, items)
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self._pool.map(fn, items, chunksize=1)

    def close(self):
        if self._pool is not None:  # work still queued (an error, Ctrl-C) is dropped, not run
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def describe(self):
        return {"engine": self.name, "workers": self.workers}


class DaskEngine(Engine):
    """The same work on a Dask cluster (``distributed``; imported only here).

    ``scheduler``: an address such as ``tcp://10.0.0.5:8786``, the word ``local`` (start a
    ``LocalCluster`` of ``workers`` processes on 127.0.0.1 for this run), or an existing
    ``distributed.Client``. Only what this engine started is closed by :meth:`close`.
    """

    name = "dask"

    def __init__(self, scheduler=None, workers: int = 1):
        try:
            import distributed
        except ImportError:
            raise RuntimeError("the dask engine needs the 'distributed' package: "
                               "pip install 'veriscope[dask]'") from None
        self._owned: list = []
        if isinstance(scheduler, distributed.Client):
            self.client = scheduler
        elif scheduler in (None, "", "local"):
            cluster = distributed.LocalCluster(n_workers=max(1, int(workers)), threads_per_worker=1,
                                               processes=True, host="127.0.0.1",
                                               dashboard_address=None)
            self.client = distributed.Client(cluster, set_as_default=False)
            self._owned = [self.client, cluster]
        else:
            self.client = distributed.Client(str(scheduler), set_as_default=False, timeout=30)
            self._owned = [self.client]
        self.address = self.client.scheduler.address

    def map(self, fn, items):
        items = list(items)
        if not items:
            return iter(())
        futures = self.client.map(fn, items, pure=False)

        def ordered():
            try:
                for f in futures:
                    yield f.result()
            finally:
                for f in futures:
                    f.release()

        return ordered()

    def close(self):
        for obj in self._owned:
            try:
                obj.close()
            except Exception:  # closing a half-dead cluster must not hide the results
                pass
        self._owned = []

    def describe(self):
        return {"engine": self.name, "scheduler": self.address}


def make_engine(name: str | None = "local", *, workers: int = 1, scheduler=None) -> Engine:
    """An engine by name: ``local`` (default) or ``dask``."""
    name = (name or "local").lower()
    if name == "local":
        if scheduler is not None:
            raise ValueError("--scheduler needs --engine dask")
        return LocalEngine(workers)
    if name == "dask":
        return DaskEngine(scheduler, workers=workers)
    raise ValueError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
