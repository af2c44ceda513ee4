"""copy_move: regions of a picture copied elsewhere in it.

``detector`` (the detector), ``core`` (the pipeline and its parameters), ``sift`` (keypoint
matches), ``dense`` (PatchMatch field), ``exact`` (identical blocks in lossless pictures),
``verify`` (checks a proposed transform on the pixels).
"""

from veriscope.detectors.image.copy_move.detector import CopyMoveDetector

__all__ = ["CopyMoveDetector"]
