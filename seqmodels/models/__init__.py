"""Task heads built on seqmodels layers (torch only)."""

from seqmodels.models.regressor import SequenceRegressor as SequenceRegressor
