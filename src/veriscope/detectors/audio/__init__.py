"""Detectors of sound: container and signal facts (``audio_facts``), splices
(``audio_splice``) and synthetic speech (``synthetic_speech``)."""
