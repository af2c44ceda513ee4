"""The analysis core: what every other layer builds on.

``media`` (a decoded-on-demand input and its hash), ``evidence`` (what one detector says),
``registry`` (detectors found through entry points), ``fusion`` and ``calibration`` (many
pieces of evidence become one verdict and one map), ``metrics`` (pure scoring functions),
``video`` (bounded frame access) and ``errors``. Nothing here imports a detector, a report
writer, the bench or a known-answer generator (docs/architecture.md).
"""
