"""Detectors that read what the file says about itself: metadata and generator parameters
(``metadata``), Content Credentials (``c2pa``), invisible generator watermarks (``watermark``)
and the encoder's JPEG tables (``jpeg_tables``)."""
