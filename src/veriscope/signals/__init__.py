"""Signal processing shared by several detectors, the bench and training.

Audio features and voice activity (``audio_features``, ``vad``), sound resampling and frame
timing (``sampling``), shot boundaries (``shots``), face tracking (``faces``) and the everyday
re-encodings that pictures go through when shared (``perturb``). Pure functions over arrays
where possible; imports only ``veriscope.core``.
"""
