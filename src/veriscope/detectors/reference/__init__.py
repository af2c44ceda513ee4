"""Detectors that compare the input with reference material the user keeps (an archive)."""
