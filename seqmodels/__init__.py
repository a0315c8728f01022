"""seqmodels: readable recurrent sequence models, proven equal to torch.nn.

The library imports only torch: ``from seqmodels import LSTM`` pulls in neither Lightning nor
Hydra.
"""

from seqmodels.bidirectional import MERGE_MODES, Bidirectional, merge_directions
from seqmodels.build import build_recurrent, recurrent_output_size
from seqmodels.cells import (
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    MinLSTMCell,
    RecurrentCell,
    RNNCell,
)
from seqmodels.recurrent import GRU, LSTM, RNN, Recurrent
from seqmodels.seq2seq import Attention, Decoder, Encoder, Seq2Seq

__version__ = "0.1.0"

__all__ = [
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
    "MinGRUCell",
    "MinLSTMCell",
    "RecurrentCell",
    "Recurrent",
    "RNN",
    "LSTM",
    "GRU",
    "Bidirectional",
    "MERGE_MODES",
    "merge_directions",
    "build_recurrent",
    "recurrent_output_size",
    "Encoder",
    "Decoder",
    "Attention",
    "Seq2Seq",
]
