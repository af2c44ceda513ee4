"""A local reference archive: index pictures (and video keyframes), find earlier versions.

- :mod:`~veriscope.archive.store`: the archive folder. SQLite for the items (hash, path,
  size, date, source, caption), their perceptual hashes and local features; a faiss index of
  the local features beside it, rebuilt from the database when it is stale.
- :mod:`~veriscope.archive.build`: indexing folders (incremental by SHA-256, resumable, bad
  files listed with the reason).
- :mod:`~veriscope.archive.search`: candidates (perceptual hashes and local-feature votes),
  geometric verification, registration, the difference map and which version is likely the
  earlier one.

The archive sits below the detectors (the ``archive_match`` detector reads it) and above
``signals`` (``signals.fingerprint`` computes what it stores). ImageHash and faiss-cpu are
imported lazily (the ``archive`` extra).
"""
