"""Text classification: labelled texts -> a label.

Everything about the task is in this folder: ``task.py`` (the LightningModule), ``data.py``
(the data module and its spec) and ``predictor.py`` (inference with torch only). Names are
imported on first use, so importing the predictor does not import Lightning.
"""

from seqmodels.tasks._names import lazy_names

_EXPORTS = {
    "ClassificationTask": ".task",
    "confusion_figure": ".task",
    "LengthBucketSampler": ".data",
    "TextClassificationDataModule": ".data",
    "TextClassificationSpec": ".data",
    "read_labeled_texts": ".data",
    "TextClassifier": ".predictor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
