"""Task heads built on seqmodels layers (torch only)."""

from seqmodels.models.char_lm import CharLM as CharLM
from seqmodels.models.classifier import SequenceClassifier as SequenceClassifier
from seqmodels.models.regressor import SequenceRegressor as SequenceRegressor
