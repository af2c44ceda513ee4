"""Byte-level parsers of file formats: JPEG markers and tables (``jpeg``), MP4/MOV boxes
(``mp4``), embedded metadata (``metadata``: EXIF, XMP, IPTC, Photoshop resources, PNG chunks).

Each parser is bounded and never trusts a length field; it imports only ``veriscope.core``.
"""
