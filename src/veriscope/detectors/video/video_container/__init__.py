"""video_container: the container and encoder history of a video file.

``detector`` (the detector), ``tags`` (known encoder, editor, recorder and generator tags).
"""

from veriscope.detectors.video.video_container.detector import VideoContainerDetector

__all__ = ["VideoContainerDetector"]
