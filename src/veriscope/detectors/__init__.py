"""Built-in detectors, one family per folder: ``provenance/`` (what the file says about
itself), ``image/`` (pixels), ``audio/`` (sound), ``video/`` (frames, tracks, container).

Each detector is one module, or a small package when it has private helpers (``detector.py``
holds the class, ``__init__`` exports it), registered as an entry point in pyproject.toml.
``base`` holds the contract every detector implements (:class:`~veriscope.detectors.base.Detector`,
:class:`~veriscope.detectors.base.Context`). Detectors import only the layers below them and
not each other's families (docs/architecture.md).
"""
