"""Training recipes for veriscope's small committed models (``veriscope train ...``).

Each recipe is reproducible from a seed, reads third-party data in place (it never copies
it into the repository and never downloads anything) and writes the model file plus a
``training_report.json`` into an output folder. Copy the model file into
``src/veriscope/models/`` to commit it, and update its model card.

- :mod:`veriscope.train.synthetic_speech`: real vs synthetic speech
  (``veriscope train synthetic-speech --out DIR --seed N``).
"""
