"""Task heads built on seqmodels layers (torch only): regression and forecasting, text
classification, character language modelling and sequence-to-sequence.

Everything that appears in a head's public signature is exported here too (the seq2seq parts
and what they take and return).
"""

from seqmodels.models.char_lm import CharLM
from seqmodels.models.classifier import SequenceClassifier
from seqmodels.models.forecaster import WindowForecaster
from seqmodels.models.mlp import WindowMLP
from seqmodels.models.regressor import SequenceRegressor
from seqmodels.models.seq2seq import (
    ATTENTIONS,
    Attention,
    Bridge,
    Decoder,
    DecoderState,
    Encoder,
    Generation,
    Memory,
    Seq2Seq,
)

__all__ = [
    "CharLM",
    "SequenceClassifier",
    "SequenceRegressor",
    "WindowForecaster",
    "WindowMLP",
    "Seq2Seq",
    "Encoder",
    "Decoder",
    "Bridge",
    "Attention",
    "ATTENTIONS",
    "Memory",
    "DecoderState",
    "Generation",
]
