"""LightningModules: losses, metrics, logging and figures for the ready tasks."""

from seqmodels.tasks.base import SequenceTask as SequenceTask
from seqmodels.tasks.classification import ClassificationTask as ClassificationTask
from seqmodels.tasks.language_model import LanguageModelTask as LanguageModelTask
from seqmodels.tasks.regression import RegressionTask as RegressionTask
from seqmodels.tasks.seq2seq import Seq2SeqTask as Seq2SeqTask
