"""Running an analysis: ``runner`` (detectors on one input, each isolated and time-limited,
fused into a :class:`~veriscope.report.Report`) and ``stability`` (the same analysis repeated
on everyday re-encodings of a picture). This is the layer the CLI, the bench and the public
API call; it never imports a known-answer generator."""
