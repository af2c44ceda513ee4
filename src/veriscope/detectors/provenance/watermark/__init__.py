"""watermark: the invisible-watermark DWT-DCT payloads of Stable Diffusion pipelines.

``detector`` (the detector), ``dwtdct`` (decoding, and the embedder used for tests and the demo).
"""

from veriscope.detectors.provenance.watermark.detector import WatermarkDetector

__all__ = ["WatermarkDetector"]
