"""``build_recurrent``: a recurrent layer from a cell name, seqmodels' or torch.nn's."""

from __future__ import annotations

from torch import nn

from seqmodels.bidirectional import MERGE_MODES, Bidirectional
from seqmodels.cells import (
    LayerNormGRUCell,
    LayerNormLSTMCell,
    MinGRUCell,
    MinLSTMCell,
    RecurrentCell,
)
from seqmodels.recurrent import GRU, LSTM, RNN, Recurrent

__all__ = [
    "CELL_TYPES",
    "IMPLEMENTATIONS",
    "build_recurrent",
    "recurrent_output_size",
]

CELL_TYPES = (
    "rnn", "rnn_relu", "lstm", "gru", "layernorm_lstm", "layernorm_gru", "mingru", "minlstm"
)  # fmt: skip
IMPLEMENTATIONS = ("seqmodels", "torch")
# cells without a torch.nn twin, run by Recurrent, and the cell arguments build_recurrent gives
# them: minGRU / minLSTM get the paper's block (pre-norm, residual connections between layers)
_SEQMODELS_ONLY: dict[str, tuple[type[RecurrentCell], dict[str, bool]]] = {
    "layernorm_lstm": (LayerNormLSTMCell, {}),
    "layernorm_gru": (LayerNormGRUCell, {}),
    "mingru": (MinGRUCell, {"norm": True, "residual": True}),
    "minlstm": (MinLSTMCell, {"norm": True, "residual": True}),
}


def build_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
    merge: str = "concat",
    batch_first: bool = True,
    impl: str = "seqmodels",
    recurrent_dropout: float = 0.0,
    weight_drop: float = 0.0,
    zoneout: float = 0.0,
) -> nn.Module:
    """Build a recurrent layer by name, so models and configs can switch cell and implementation.

    Args:
        cell: ``"rnn"`` (tanh), ``"rnn_relu"``, ``"lstm"``, ``"gru"``, ``"layernorm_lstm"``,
            ``"layernorm_gru"``, ``"mingru"`` or ``"minlstm"``. minGRU and minLSTM come in the
            block of Feng et al. (2024): each layer normalises its input before the input projection
            (``norm=True``), and every layer but the first adds its input to its output
            (``residual=True``); without them, stacked minimal cells (whose state is a gated
            average of linear projections) train poorly.
        input_size, hidden_size, num_layers, dropout, batch_first: as for :class:`torch.nn.LSTM`.
        bidirectional: run both directions. With ``merge="concat"`` this is the layer's own
            ``bidirectional=True`` (equal to ``torch.nn``); other merges wrap a unidirectional
            layer in :class:`seqmodels.Bidirectional`.
        merge: ``"concat"``, ``"sum"``, ``"mean"``, ``"max"`` or ``"mul"``.
        impl: ``"seqmodels"`` or ``"torch"`` (``torch.nn`` layers, to compare the two).
        recurrent_dropout, weight_drop, zoneout: the regularisers of :class:`seqmodels.Recurrent`
            (off by default; ``impl="seqmodels"`` only).

    Returns:
        a module with ``forward(input, hx=None) -> (output, h_n)`` taking a tensor or a
        ``PackedSequence``; its output has :func:`recurrent_output_size` features.

    Example::

        >>> layer = build_recurrent("gru", 8, 16, bidirectional=True, merge="sum")
        >>> output, h_n = layer(torch.randn(4, 7, 8))
        >>> output.shape
        torch.Size([4, 7, 16])
    """
    if cell not in CELL_TYPES:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELL_TYPES))}, got {cell!r}")
    if impl not in IMPLEMENTATIONS:
        raise ValueError(
            f"impl must be one of {', '.join(map(repr, IMPLEMENTATIONS))}, got {impl!r}"
        )
    if merge is None or merge not in MERGE_MODES:
        modes = ", ".join(repr(mode) for mode in MERGE_MODES if mode is not None)
        raise ValueError(f"merge must be one of {modes}, got {merge!r}")
    if cell in _SEQMODELS_ONLY and impl == "torch":
        raise ValueError(f"cell {cell!r} has no torch.nn implementation; use impl='seqmodels'")
    regularisers = {
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }
    if impl == "torch" and any(regularisers.values()):
        used = ", ".join(f"{name}={value}" for name, value in regularisers.items() if value)
        raise ValueError(f"{used}: torch.nn layers have no such option; use impl='seqmodels'")
    native = bidirectional and merge == "concat"
    args = (input_size, hidden_size, num_layers)
    kwargs = {"batch_first": batch_first, "dropout": dropout, "bidirectional": native}
    if impl == "seqmodels":
        kwargs.update(regularisers)
    if cell in _SEQMODELS_ONLY:
        cell_class, block = _SEQMODELS_ONLY[cell]
        layer = Recurrent(cell_class, *args, **kwargs, **block)
    else:
        classes = {"seqmodels": (RNN, LSTM, GRU), "torch": (nn.RNN, nn.LSTM, nn.GRU)}[impl]
        rnn_class, lstm_class, gru_class = classes
        if cell in ("rnn", "rnn_relu"):
            nonlinearity = "relu" if cell == "rnn_relu" else "tanh"
            layer = rnn_class(*args, nonlinearity=nonlinearity, **kwargs)
        else:
            layer = (lstm_class if cell == "lstm" else gru_class)(*args, **kwargs)
    if bidirectional and not native:
        layer = Bidirectional(layer, merge)
    return layer


def recurrent_output_size(hidden_size: int, bidirectional: bool, merge: str = "concat") -> int:
    """The number of output features of :func:`build_recurrent`'s layer."""
    return 2 * hidden_size if bidirectional and merge == "concat" else hidden_size
