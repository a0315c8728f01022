"""The ready tasks, one folder each, and what they share.

Each task folder holds everything about that task::

    seqmodels/tasks/<task>/
        task.py        the LightningModule: loss, metrics, figures       (Lightning)
        data.py        the LightningDataModule and its typed DataSpec    (Lightning)
        predictor.py   inference from a checkpoint                       (torch only)

and its configs are ``conf/task/<task>.yaml``, ``conf/data/*.yaml`` and ``conf/experiment/*.yaml``.
The folders are :mod:`~seqmodels.tasks.regression` (forecasting),
:mod:`~seqmodels.tasks.classification`, :mod:`~seqmodels.tasks.language_model` and
:mod:`~seqmodels.tasks.seq2seq`; :mod:`seqmodels.tasks.base` holds the base LightningModule.
Names are imported on first use, so a predictor imports neither Lightning nor the task.
"""

from seqmodels.tasks._names import lazy_names

__all__ = ["SequenceTask"]
# the ready tasks' classes under their paths before the task folders; deprecated
__getattr__, __dir__ = lazy_names(
    __name__,
    {"SequenceTask": ".base"},
    moved={
        "ClassificationTask": "seqmodels.tasks.classification",
        "LanguageModelTask": "seqmodels.tasks.language_model",
        "RegressionTask": "seqmodels.tasks.regression",
        "Seq2SeqTask": "seqmodels.tasks.seq2seq",
    },
)
