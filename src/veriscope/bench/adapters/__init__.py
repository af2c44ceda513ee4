"""Dataset adapters for the public forensics sets, grouped by family.

Each adapter takes the dataset root (a folder laid out as the public release
ships it, see docs/datasets.md) and returns a list of
:class:`veriscope.bench.datasets.Record`. They are registered in
``veriscope.bench.datasets.ADAPTERS`` and imported on first use. A missing
folder, label file or listed media file, or a malformed label file, raises a
``ValueError`` that names the path.
"""
