"""Character language modelling: a character stream -> the next character, with truncated BPTT.

Everything about the task is in this folder: ``task.py`` (the LightningModule), ``data.py``
(the data module and its spec) and ``predictor.py`` (inference with torch only). Names are
imported on first use, so importing the predictor does not import Lightning.
"""

from seqmodels.tasks._names import lazy_names

_EXPORTS = {
    "LanguageModelTask": ".task",
    "detach_state": ".task",
    "BPTTWindows": ".data",
    "CharTextDataModule": ".data",
    "CharTextSpec": ".data",
    "batchify": ".data",
    "TextGenerator": ".predictor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
