"""Detectors of video: container and encoder history (``video_container``), shots and frame
edits, faces and lip sync, and the image detectors run on sampled frames (``video_frames``)."""
