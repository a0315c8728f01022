"""Task heads built on seqmodels layers (torch only)."""

from seqmodels.models.char_lm import CharLM as CharLM
from seqmodels.models.classifier import SequenceClassifier as SequenceClassifier
from seqmodels.models.forecaster import WindowForecaster as WindowForecaster
from seqmodels.models.mlp import WindowMLP as WindowMLP
from seqmodels.models.regressor import SequenceRegressor as SequenceRegressor
