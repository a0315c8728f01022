r"""torch's fused RNN kernels, called as ``torch.nn``'s layers call them.

``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh`` and ``torch.rnn_relu`` run a whole multi-layer,
one- or two-direction recurrence in one call: oneDNN on CPU, cuDNN on CUDA. They take the
weights as one flat list in ``torch.nn``'s order (for each layer and direction ``w_ih, w_hh``,
then ``b_ih, b_hh`` with biases, then ``w_hr`` with projections), which is the order in which
:class:`seqmodels.RNN`, :class:`~seqmodels.LSTM` and :class:`~seqmodels.GRU` register their
parameters.

:func:`fused_rnn` is the one place the layers call them: it adds what ``torch.nn``'s forward
adds around the kernel (zero initial states, unbatched input, the sorting of a
``PackedSequence``'s states) and nothing else, so results are those of ``torch.nn``.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

__all__ = ["KERNELS", "fused_rnn"]

#: the fused kernel of each ``mode`` (``torch.nn.RNNBase``'s names)
KERNELS = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


class FusedLayer(Protocol):
    """What :func:`fused_rnn` reads of a layer: ``torch.nn.RNNBase``'s attributes."""

    mode: str
    hidden_size: int
    proj_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    training: bool


def fused_rnn(
    layer: FusedLayer,
    input: Tensor | PackedSequence,
    hx: Tensor | tuple[Tensor, Tensor] | None,
    weights: list[Tensor],
    bidirectional: bool | None = None,
) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, Tensor]]:
    """Run ``layer``'s fused kernel on ``input`` with the flat ``weights``.

    Args:
        layer: the layer's configuration (mode, sizes, dropout, directions, layout, training).
        input: ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``), ``(L, H_in)``
            unbatched, or a ``PackedSequence``; checked by the caller.
        hx: the initial state (``(h, c)`` for an LSTM) or None for zeros; checked by the caller.
        weights: the flat weights in ``torch.nn``'s order.
        bidirectional: overrides ``layer.bidirectional`` (two one-way layers of
            :class:`seqmodels.Bidirectional` run as one two-direction kernel call).

    Returns:
        ``(output, h_n)`` as ``torch.nn``'s layer returns them.
    """
    lstm = layer.mode == "LSTM"
    if bidirectional is None:
        bidirectional = layer.bidirectional
    packed = isinstance(input, PackedSequence)
    unbatched = not packed and input.dim() == 2
    if unbatched:  # a batch of one
        input = input.unsqueeze(0 if layer.batch_first else 1)
    hx = _initial_state(layer, input, hx, unbatched, layer.num_layers * (1 + bidirectional))
    kernel = KERNELS[layer.mode]
    options = (layer.bias, layer.num_layers, layer.dropout, layer.training, bidirectional)
    state = list(hx) if lstm else hx
    if packed:
        result = kernel(input.data, input.batch_sizes, state, weights, *options)
    else:
        result = kernel(input, state, weights, *options, layer.batch_first)
    output, h_n = result[0], (tuple(result[1:]) if lstm else result[1])
    if packed:
        output = input._replace(data=output)
        if input.unsorted_indices is not None:
            h_n = _reorder(h_n, input.unsorted_indices)
    elif unbatched:
        output = output.squeeze(0 if layer.batch_first else 1)
        h_n = tuple(h.squeeze(1) for h in h_n) if lstm else h_n.squeeze(1)
    return output, h_n


def _initial_state(
    layer: FusedLayer,
    input: Tensor | PackedSequence,
    hx: Tensor | tuple[Tensor, Tensor] | None,
    unbatched: bool,
    count: int,
) -> Tensor | tuple[Tensor, Tensor]:
    """``hx`` as the kernel takes it: zeros ``(count, N, H)`` when None, with a batch dimension
    for unbatched input, and in a ``PackedSequence``'s sorted order."""
    lstm = layer.mode == "LSTM"
    if hx is None:
        packed = isinstance(input, PackedSequence)
        data = input.data if packed else input
        batch = int(input.batch_sizes[0]) if packed else input.size(0 if layer.batch_first else 1)
        zeros = data.new_zeros(count, batch, layer.proj_size or layer.hidden_size)
        return (zeros, data.new_zeros(count, batch, layer.hidden_size)) if lstm else zeros
    if unbatched:
        return tuple(h.unsqueeze(1) for h in hx) if lstm else hx.unsqueeze(1)
    if isinstance(input, PackedSequence) and input.sorted_indices is not None:
        return _reorder(tuple(hx) if lstm else hx, input.sorted_indices)
    return hx


def _reorder(state: Tensor | tuple[Tensor, ...], order: Tensor) -> Tensor | tuple[Tensor, ...]:
    """The sequences of a state ``(D * num_layers, N, H)`` (or a tuple of them) in ``order``."""
    if isinstance(state, tuple):
        return tuple(part.index_select(1, order) for part in state)
    return state.index_select(1, order)
