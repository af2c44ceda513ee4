"""Built-in detectors. Each module holds one detector class."""
