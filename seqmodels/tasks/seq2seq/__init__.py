"""Sequence to sequence: source sequences -> target sequences (synthetic tasks, translation).

Everything about the task is in this folder: ``task.py`` (the LightningModule), ``data.py``
(the data module and its spec) and ``predictor.py`` (inference with torch only). Names are
imported on first use, so importing the predictor does not import Lightning.
"""

from seqmodels.tasks._names import lazy_names

_EXPORTS = {
    "Seq2SeqTask": ".task",
    "PairsDataModule": ".data",
    "PairsSpec": ".data",
    "SyntheticPairsDataModule": ".data",
    "TranslationDataModule": ".data",
    "synthetic_pairs": ".data",
    "translation_pairs": ".data",
    "Translator": ".predictor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
