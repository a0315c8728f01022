"""seqmodels: readable recurrent sequence models, proven equal to torch.nn.

This level is the layer library: cells, the layers that unroll them (``RNN``, ``LSTM``, ``GRU``,
``Recurrent``), ``Bidirectional`` with its merge modes, and the cell registry ``CELLS`` read by
``build_recurrent``. The task heads (``Seq2Seq``, ``CharLM``, ``SequenceClassifier``, ...) live
one level down, in :mod:`seqmodels.models`. Both import only torch: ``from seqmodels import LSTM``
pulls in neither Lightning nor Hydra.
"""

import torch

from seqmodels.bidirectional import MERGE_MODES, Bidirectional, merge_directions
from seqmodels.build import CELLS, CellSpec, build_recurrent, recurrent_output_size
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
from seqmodels.registry import register_cell

# whole layers saved with torch.save(model) load with a plain torch.load (weights_only=True);
# the layer-norm and minimal cells hold torch.nn.LayerNorm modules
torch.serialization.add_safe_globals(
    [
        RNNCell, LSTMCell, GRUCell, LayerNormLSTMCell, LayerNormGRUCell, MinGRUCell, MinLSTMCell,
        Recurrent, RNN, LSTM, GRU, Bidirectional, torch.nn.LayerNorm,
    ]
)  # fmt: skip

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
    "CELLS",
    "CellSpec",
    "register_cell",
    "build_recurrent",
    "recurrent_output_size",
]
