"""``build_recurrent``: a recurrent layer from a cell name, seqmodels' or torch.nn's."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from torch import nn

from seqmodels.bidirectional import MERGE_MODES, Bidirectional
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

__all__ = [
    "CELLS",
    "CELL_TYPES",
    "IMPLEMENTATIONS",
    "CellSpec",
    "build_recurrent",
    "recurrent_output_size",
]


@dataclass(frozen=True)
class CellSpec:
    """What a cell name stands for: the one place a new cell is registered.

    Attributes:
        cell: the seqmodels cell class, unrolled by :class:`~seqmodels.Recurrent` (or by
            ``layer``).
        num_states: how many state tensors the cell carries (2 for an LSTM's ``(h, c)``).
        fused: whether torch's fused RNN kernel computes its layer (``impl="auto"`` runs it).
        layer: the seqmodels layer class with ``torch.nn``'s signature, or None (then
            ``Recurrent(cell, ...)``).
        torch_layer: the ``torch.nn`` twin (for ``impl="torch"``), or None.
        arguments: extra arguments of the layer (``nonlinearity``, the minimal cells' block).
    """

    cell: type[RecurrentCell]
    num_states: int
    fused: bool
    layer: type[Recurrent] | None = None
    torch_layer: type[nn.Module] | None = None
    arguments: dict[str, object] = field(default_factory=dict)


# minGRU / minLSTM come in the paper's block: pre-norm before the input projection and residual
# connections between layers (without them, stacked minimal cells train poorly)
_MINIMAL_BLOCK = {"norm": True, "residual": True}

CELLS: dict[str, CellSpec] = {
    "rnn": CellSpec(RNNCell, 1, True, RNN, nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": CellSpec(RNNCell, 1, True, RNN, nn.RNN, {"nonlinearity": "relu"}),
    "lstm": CellSpec(LSTMCell, 2, True, LSTM, nn.LSTM),
    "gru": CellSpec(GRUCell, 1, True, GRU, nn.GRU),
    "layernorm_lstm": CellSpec(LayerNormLSTMCell, 2, False),
    "layernorm_gru": CellSpec(LayerNormGRUCell, 1, False),
    "mingru": CellSpec(MinGRUCell, 1, False, arguments=_MINIMAL_BLOCK),
    "minlstm": CellSpec(MinLSTMCell, 1, False, arguments=_MINIMAL_BLOCK),
}
CELL_TYPES = tuple(CELLS)
#: ``impl`` of :func:`build_recurrent`: a seqmodels layer's own ``impl`` (see
#: :mod:`seqmodels.recurrent`), or ``"torch"`` for the ``torch.nn`` layer itself
IMPLEMENTATIONS = ("auto", "cells", "fused", "torch")


def build_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    merge: str = "concat",
    batch_first: bool = True,
    impl: str = "auto",
    recurrent_dropout: float = 0.0,
    weight_drop: float = 0.0,
    zoneout: float = 0.0,
) -> nn.Module:
    """Build a recurrent layer by name, so models and configs can switch cell and implementation.

    Args:
        cell: a name of :data:`CELLS`: ``"rnn"`` (tanh), ``"rnn_relu"``, ``"lstm"``, ``"gru"``,
            ``"layernorm_lstm"``, ``"layernorm_gru"``, ``"mingru"`` or ``"minlstm"``. minGRU and
            minLSTM come in the block of Feng et al. (2024): each layer normalises its input
            before the input projection, and every layer but the first adds its input to its
            output.
        input_size, hidden_size, num_layers, dropout, batch_first: as for :class:`torch.nn.LSTM`.
        bidirectional: run both directions. With ``merge="concat"`` this is the layer's own
            ``bidirectional=True`` (equal to ``torch.nn``); other merges wrap a unidirectional
            layer in :class:`seqmodels.Bidirectional`.
        merge: ``"concat"``, ``"sum"``, ``"mean"``, ``"max"`` or ``"mul"``.
        impl: ``"auto"`` (torch's fused kernel where it serves, else the cells), ``"cells"``
            (the readable cells), ``"fused"`` (the fused kernel, or a ValueError naming why it
            cannot serve), or ``"torch"`` (``torch.nn`` layers, to compare). ``"seqmodels"`` is
            a deprecated name of ``"auto"``.
        recurrent_dropout, weight_drop, zoneout: the regularisers of :class:`seqmodels.Recurrent`
            (off by default; not with ``impl="torch"``).

    Returns:
        a module with ``forward(input, hx=None) -> (output, h_n)`` taking a tensor or a
        ``PackedSequence``; its output has :func:`recurrent_output_size` features.

    Example::

        >>> layer = build_recurrent("gru", 8, 16, bidirectional=True, merge="sum")
        >>> output, h_n = layer(torch.randn(4, 7, 8))
        >>> output.shape
        torch.Size([4, 7, 16])
    """
    if impl == "seqmodels":
        warnings.warn(
            "impl='seqmodels' is deprecated: use impl='auto' (the default), or 'cells' for the "
            "readable cells only",
            DeprecationWarning,
            stacklevel=2,
        )
        impl = "auto"
    if cell not in CELL_TYPES:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELL_TYPES))}, got {cell!r}")
    if impl not in IMPLEMENTATIONS:
        raise ValueError(
            f"impl must be one of {', '.join(map(repr, IMPLEMENTATIONS))}, got {impl!r}"
        )
    if merge is None or merge not in MERGE_MODES:
        modes = ", ".join(repr(mode) for mode in MERGE_MODES if mode is not None)
        raise ValueError(f"merge must be one of {modes}, got {merge!r}")
    spec = CELLS[cell]
    if impl == "torch" and spec.torch_layer is None:
        raise ValueError(f"cell {cell!r} has no torch.nn implementation; use impl='auto'")
    regularisers = {
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }
    if impl == "torch" and any(regularisers.values()):
        used = ", ".join(f"{name}={value}" for name, value in regularisers.items() if value)
        raise ValueError(f"{used}: torch.nn layers have no such option; use impl='auto'")
    native = bidirectional and merge == "concat"
    args = (input_size, hidden_size, num_layers)
    kwargs = {"batch_first": batch_first, "dropout": dropout, "bidirectional": native}
    if impl != "torch":
        kwargs.update(regularisers, impl=impl)
    if impl == "torch":
        layer = spec.torch_layer(*args, **kwargs, **spec.arguments)
    elif spec.layer is not None:
        layer = spec.layer(*args, **kwargs, **spec.arguments)
    else:
        layer = Recurrent(spec.cell, *args, **kwargs, **spec.arguments)
    if bidirectional and not native:
        layer = Bidirectional(layer, merge)
    return layer


def recurrent_output_size(hidden_size: int, bidirectional: bool, merge: str = "concat") -> int:
    """The number of output features of :func:`build_recurrent`'s layer."""
    return 2 * hidden_size if bidirectional and merge == "concat" else hidden_size
