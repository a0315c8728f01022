"""LightningModules: losses, metrics, logging and figures for the ready tasks."""

from seqmodels.tasks.base import SequenceTask as SequenceTask
from seqmodels.tasks.regression import RegressionTask as RegressionTask
