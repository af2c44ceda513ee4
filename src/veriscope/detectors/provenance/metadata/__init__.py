"""metadata: EXIF/XMP/IPTC facts, generator parameters, date rules and the EXIF thumbnail check.

``detector`` (the detector), ``generators`` (AI generator markers), ``dates`` (date
consistency rules), ``thumbnail`` (embedded thumbnail vs picture). The readers are in
:mod:`veriscope.formats.metadata`.
"""

from veriscope.detectors.provenance.metadata.detector import MetadataDetector

__all__ = ["MetadataDetector"]
