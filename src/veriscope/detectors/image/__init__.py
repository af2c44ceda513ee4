"""Detectors that read the pixels of a picture (also run on video frames by ``video_frames``):
JPEG compression traces, resampling, noise, colour-filter-array traces, copy-move, visual aids."""
