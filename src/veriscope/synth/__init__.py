"""Known-answer generators: forgeries with their masks, audio splices, video and
audio-video edits, face swaps, and C2PA signing with test credentials.

They make test inputs, benchmark sets and training data; the analysis path (core, formats,
signals, detectors, report, pipeline) never imports them (checked by ``make lint``).
"""
