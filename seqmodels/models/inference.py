"""Deprecated: each task's predictor lives in its task folder.

========================  =====================================================
old name                  new path
========================  =====================================================
``Forecaster``            :class:`seqmodels.tasks.regression.predictor.Forecaster`
``TextClassifier``        :class:`seqmodels.tasks.classification.predictor.TextClassifier`
``TextGenerator``         :class:`seqmodels.tasks.language_model.predictor.TextGenerator`
``Translator``            :class:`seqmodels.tasks.seq2seq.predictor.Translator`
``load_checkpoint``       :func:`seqmodels.models.spec.load_checkpoint`
========================  =====================================================

The names still work from here for one release, with a :class:`DeprecationWarning`. The
predictors import torch only, as before.
"""

from seqmodels.tasks._names import moved_names as _moved_names

__getattr__ = _moved_names(
    __name__,
    {
        "Forecaster": "seqmodels.tasks.regression.predictor",
        "TextClassifier": "seqmodels.tasks.classification.predictor",
        "TextGenerator": "seqmodels.tasks.language_model.predictor",
        "Translator": "seqmodels.tasks.seq2seq.predictor",
        "load_checkpoint": "seqmodels.models.spec",
    },
)
