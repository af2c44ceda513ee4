"""The desk: a local web service and UI over the analysis core (``veriscope serve``).

- :mod:`~veriscope.desk.store`: the data folder. SQLite (WAL) for cases, items, jobs, notes,
  API keys and the audit log; original files stored once by SHA-256, read-only.
- :mod:`~veriscope.desk.audit`: the append-only audit log, each row chained to the previous
  one by its hash, and the check that finds an edited, deleted or reordered row.
- :mod:`~veriscope.desk.queue`: the persistent job queue (leases, retries, priorities).
- :mod:`~veriscope.desk.worker`: the worker process that runs analyses from the queue.
- :mod:`~veriscope.desk.app`: the FastAPI application (REST API under ``/api/v1`` and the
  server-rendered pages).
- :mod:`~veriscope.desk.bundle`: case export as a signed BagIt bundle and its verification.

FastAPI, uvicorn and python-multipart are imported only by ``app`` and the ``serve`` command
(the ``desk`` extra); the rest uses the standard library.
"""
