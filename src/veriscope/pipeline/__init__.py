"""Running an analysis: ``runner`` (detectors on one input, each isolated and time-limited,
fused into a :class:`~veriscope.report.Report`), ``stability`` (the same analysis repeated on
everyday re-encodings of a picture), ``batch`` (many inputs in one or several worker processes,
outcomes in input order), ``engine`` (where per-item work runs: here, a process pool or Dask)
and ``scan`` (every media file under a folder, resumable). This is the layer the CLI, the
bench and the public API call; it never imports a known-answer generator."""
