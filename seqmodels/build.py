"""``build_recurrent``: a recurrent layer from a cell name, seqmodels' or torch.nn's."""

from __future__ import annotations

import warnings

from torch import nn

from seqmodels.bidirectional import MERGE_MODES, Bidirectional
from seqmodels.cells import RecurrentCell
from seqmodels.recurrent import Recurrent
from seqmodels.registry import CELLS, CellSpec, resolve_cell

__all__ = [
    "CELLS",
    "IMPLEMENTATIONS",
    "CellSpec",
    "build_recurrent",
    "recurrent_output_size",
]


#: ``impl`` of :func:`build_recurrent`: a seqmodels layer's own ``impl`` (see
#: :mod:`seqmodels.recurrent`), or ``"torch"`` for the ``torch.nn`` layer itself
IMPLEMENTATIONS = ("auto", "cells", "fused", "torch")


def build_recurrent(
    cell: str | type[RecurrentCell],
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
    """Build a recurrent layer from a cell, so models and configs can switch cell and
    implementation.

    Args:
        cell: a registered name (see :data:`CELLS`: ``"lstm"``, ``"gru"``, ``"mingru"``, ...), a
            :class:`~seqmodels.RecurrentCell` subclass, or the import path of one
            (``"my_package.cells.MyCell"``); see :func:`~seqmodels.registry.resolve_cell`.
            Registered entries may carry layer arguments: minGRU and minLSTM come in the block
            of Feng et al. (2024), each layer normalising its input before the input projection
            and every layer but the first adding its input to its output.
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
    spec = resolve_cell(cell)
    impl = _checked_impl(impl)
    if merge is None or merge not in MERGE_MODES:
        modes = ", ".join(repr(mode) for mode in MERGE_MODES if mode is not None)
        raise ValueError(f"merge must be one of {modes}, got {merge!r}")
    regularisers = {
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }
    native = bidirectional and merge == "concat"
    args = (input_size, hidden_size, num_layers)
    kwargs = {"batch_first": batch_first, "dropout": dropout, "bidirectional": native}
    if impl == "torch":
        _check_torch_can_serve(spec, cell, regularisers)
        layer = spec.torch_layer(*args, **kwargs, **spec.arguments)
    elif spec.layer is not None:
        layer = spec.layer(*args, **kwargs, **regularisers, impl=impl, **spec.arguments)
    else:
        layer = Recurrent(spec.cell, *args, **kwargs, **regularisers, impl=impl, **spec.arguments)
    if bidirectional and not native:
        layer = Bidirectional(layer, merge)
    return layer


def _checked_impl(impl: str) -> str:
    """``impl`` checked against :data:`IMPLEMENTATIONS` (``"seqmodels"``: ``"auto"``, warned)."""
    if impl == "seqmodels":
        warnings.warn(
            "impl='seqmodels' is deprecated: use impl='auto' (the default), or 'cells' for the "
            "readable cells only",
            DeprecationWarning,
            stacklevel=3,
        )
        return "auto"
    if impl not in IMPLEMENTATIONS:
        raise ValueError(
            f"impl must be one of {', '.join(map(repr, IMPLEMENTATIONS))}, got {impl!r}"
        )
    return impl


def _check_torch_can_serve(spec: CellSpec, cell: object, regularisers: dict[str, float]) -> None:
    """Refuse ``impl="torch"`` for a cell without a ``torch.nn`` twin, or with regularisers."""
    if spec.torch_layer is None:
        raise ValueError(f"cell {cell!r} has no torch.nn implementation; use impl='auto'")
    used = ", ".join(f"{name}={value}" for name, value in regularisers.items() if value)
    if used:
        raise ValueError(f"{used}: torch.nn layers have no such option; use impl='auto'")


def __getattr__(name: str) -> object:
    """``CELL_TYPES``, deprecated: the registered names, read from :data:`CELLS` now."""
    if name == "CELL_TYPES":
        warnings.warn(
            "seqmodels.build.CELL_TYPES is deprecated: use tuple(seqmodels.CELLS)",
            DeprecationWarning,
            stacklevel=2,
        )
        return tuple(CELLS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def recurrent_output_size(hidden_size: int, bidirectional: bool, merge: str = "concat") -> int:
    """The number of output features of :func:`build_recurrent`'s layer."""
    return 2 * hidden_size if bidirectional and merge == "concat" else hidden_size
