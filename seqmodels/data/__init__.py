"""LightningDataModules for the ready tasks."""

from seqmodels.data.series import SeriesDataModule as SeriesDataModule
