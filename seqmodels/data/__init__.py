"""LightningDataModules for the ready tasks, each describing its data with a typed DataSpec."""

from seqmodels.data.base import DataSpec as DataSpec
from seqmodels.data.base import SequenceDataModule as SequenceDataModule
from seqmodels.data.char_text import CharTextDataModule as CharTextDataModule
from seqmodels.data.pairs import SyntheticPairsDataModule as SyntheticPairsDataModule
from seqmodels.data.pairs import TranslationDataModule as TranslationDataModule
from seqmodels.data.series import SeriesDataModule as SeriesDataModule
from seqmodels.data.text_classification import (
    TextClassificationDataModule as TextClassificationDataModule,
)
