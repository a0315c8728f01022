"""What every task's data shares: the data module base, its typed spec, and file readers.

:class:`SequenceDataModule` and :class:`DataSpec` (in :mod:`seqmodels.data.base`) are the contract
between a data module, its model and its task; :mod:`seqmodels.data.files` finds and downloads
data files and reads tables, :mod:`seqmodels.data.csv_series` reads series from CSV files. Each
task's own data module and spec live in its folder, ``seqmodels/tasks/<task>/data.py``.
"""

from seqmodels.data.base import DataSpec as DataSpec
from seqmodels.data.base import SequenceDataModule as SequenceDataModule
from seqmodels.tasks._names import moved_names

__all__ = ["DataSpec", "SequenceDataModule"]
# the ready tasks' data modules, now in seqmodels/tasks/<task>/data.py; deprecated
__getattr__ = moved_names(
    __name__,
    {
        "CharTextDataModule": "seqmodels.tasks.language_model.data",
        "SyntheticPairsDataModule": "seqmodels.tasks.seq2seq.data",
        "TranslationDataModule": "seqmodels.tasks.seq2seq.data",
        "SeriesDataModule": "seqmodels.tasks.regression.data",
        "TextClassificationDataModule": "seqmodels.tasks.classification.data",
    },
)
