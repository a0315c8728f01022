r"""``Bidirectional``: run any unidirectional layer both ways and merge the two outputs."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqmodels.cells import State
from seqmodels.kernels import fused_rnn
from seqmodels.recurrent import Recurrent, cells_outrun_packed, check_lengths, reverse_order

__all__ = ["Bidirectional", "MERGE_MODES", "merge_directions"]

MERGE_MODES = ("concat", "sum", "mean", "max", "mul", None)


class Bidirectional(nn.Module):
    r"""Wraps a unidirectional recurrent layer into a bidirectional one with a merge mode.

    The backward layer is a copy of ``layer`` with freshly initialised parameters. It reads each
    sequence from its last *valid* step to its first (over ``lengths`` or a ``PackedSequence``;
    padding is never read first), and its outputs are put back in forward time order before the
    merge:

    .. math::
        y_t = \mathrm{merge}(\overrightarrow{y}_t, \overleftarrow{y}_t)

    with merge ``"concat"`` (features side by side, ``2 H_out``), ``"sum"``, ``"mean"``,
    ``"max"``, ``"mul"`` (elementwise, ``H_out``) or ``None`` (the pair
    ``(forward_output, backward_output)``).

    Any layer that keeps the layer contract can be wrapped: ``forward(input, hx=None)`` with
    ``input`` a tensor (``batch_first`` respected) or a ``PackedSequence``, returning
    ``(output, h_n)`` with states shaped ``(num_layers, N, H)``; seqmodels' layers and
    ``torch.nn.RNN/LSTM/GRU`` all do. With ``merge="concat"`` and one layer the result equals
    ``torch.nn``'s ``bidirectional=True`` for the same weights. With several layers each
    direction runs its own stack (as Keras does), where ``torch.nn`` concatenates the directions
    between layers.

    States: ``hx`` and ``h_n`` are shaped ``(2 * num_layers, N, H)`` (a tuple for LSTM layers),
    ordered as ``torch.nn`` orders them: for each layer, forward then backward. ``hx`` is split
    by direction before the two runs.

    Args:
        layer: a unidirectional recurrent layer (the forward direction).
        merge: how to combine the two directions' outputs, one of :data:`MERGE_MODES`.

    Inputs: ``input, hx=None, lengths=None`` as for :class:`seqmodels.Recurrent`.

    Example::

        >>> from seqmodels import GRU
        >>> bi = Bidirectional(GRU(8, 16, batch_first=True), merge="sum")
        >>> x, lengths = torch.randn(4, 7, 8), torch.tensor([7, 2, 5, 3])
        >>> output, h_n = bi(x, lengths=lengths)
        >>> output.shape, h_n.shape
        (torch.Size([4, 7, 16]), torch.Size([2, 4, 16]))
    """

    def __init__(self, layer: nn.Module, merge: str | None = "concat") -> None:
        super().__init__()
        if merge not in MERGE_MODES:
            raise ValueError(
                f"merge must be one of {', '.join(map(repr, MERGE_MODES))}, got {merge!r}"
            )
        if getattr(layer, "bidirectional", False):
            raise ValueError(
                "Bidirectional wraps a unidirectional layer, got one with bidirectional=True"
            )
        self.merge = merge
        self.batch_first = bool(getattr(layer, "batch_first", False))
        self.forward_layer = layer
        self.backward_layer = copy.deepcopy(layer)
        for module in self.backward_layer.modules():
            if module is not self.backward_layer and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        if hasattr(self.backward_layer, "reset_parameters"):
            self.backward_layer.reset_parameters()

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: State | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence | tuple, State]:
        hx_forward, hx_backward = (None, None) if hx is None else _split_state(hx)
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError("Bidirectional: lengths cannot be given with a PackedSequence")
            return self._forward_packed(input, hx_forward, hx_backward)
        if not isinstance(input, Tensor) or input.dim() not in (2, 3):
            shape = tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__
            raise ValueError(
                "Bidirectional: expected input of 2 (unbatched) or 3 (batched) dimensions, "
                f"got {shape}"
            )
        batched = input.dim() == 3
        time_dim = 1 if batched and self.batch_first else 0
        if lengths is not None:
            if not batched:
                raise ValueError("Bidirectional: lengths cannot be given with unbatched input")
            batch_dim = 1 - time_dim
            lengths = check_lengths(self, lengths, input.size(batch_dim), input.size(time_dim))
            packed = pack_padded_sequence(
                input, lengths, batch_first=self.batch_first, enforce_sorted=False
            )
            output, h_n = self._forward_packed(packed, hx_forward, hx_backward)
            total = input.size(time_dim)
            if self.merge is None:
                output = tuple(
                    pad_packed_sequence(out, self.batch_first, total_length=total)[0]
                    for out in output
                )
            else:
                output = pad_packed_sequence(output, self.batch_first, total_length=total)[0]
            return output, h_n
        if self.runs_fused():
            output, h_n = self._fused(input, hx, hx_forward)
            return self._merge(*output.chunk(2, -1)), h_n
        forward_out, forward_h = self.forward_layer(input, hx_forward)
        backward_out, backward_h = self.backward_layer(input.flip(time_dim), hx_backward)
        output = self._merge(forward_out, backward_out.flip(time_dim))
        return output, _join_states(forward_h, backward_h)

    def runs_fused(self) -> bool:
        """Whether both directions run as one two-direction call of torch's fused kernel: two
        one-layer seqmodels layers that both take their fused path now (with several layers
        each direction runs its own stack, which the kernel does not compute)."""
        layers = (self.forward_layer, self.backward_layer)
        return all(
            isinstance(layer, Recurrent) and layer.num_layers == 1 and layer.runs_fused()
            for layer in layers
        )

    def _fused(
        self, input: Tensor | PackedSequence, hx: State | None, hx_forward: State | None
    ) -> tuple[Tensor | PackedSequence, State]:
        """Both directions in one kernel call: the output's features are the forward
        direction's then the backward's; ``h_n`` is already ordered ``l0, l0_reverse``."""
        self.forward_layer._check_forward_args(input, hx_forward)
        weights = self.forward_layer.kernel_weights() + self.backward_layer.kernel_weights()
        return fused_rnn(self.forward_layer, input, hx, weights, bidirectional=True)

    def _forward_packed(
        self, input: PackedSequence, hx_forward: State | None, hx_backward: State | None
    ) -> tuple[PackedSequence | tuple, State]:
        if self.runs_fused() and not cells_outrun_packed(input, None):
            hx = None if hx_forward is None else _join_states(hx_forward, hx_backward)
            output, h_n = self._fused(input, hx, hx_forward)
            forward_data, backward_data = output.data.chunk(2, -1)
            if self.merge is None:
                halves = (output._replace(data=forward_data), output._replace(data=backward_data))
                return halves, h_n
            return output._replace(data=self._merge(forward_data, backward_data)), h_n
        order = reverse_order(input.batch_sizes.tolist(), input.data.device)
        reversed_input = input._replace(data=input.data.index_select(0, order))
        forward_out, forward_h = self.forward_layer(input, hx_forward)
        backward_out, backward_h = self.backward_layer(reversed_input, hx_backward)
        backward_data = backward_out.data.index_select(0, order)
        merged = self._merge(forward_out.data, backward_data)
        if self.merge is None:
            output = (forward_out, forward_out._replace(data=backward_data))
        else:
            output = forward_out._replace(data=merged)
        return output, _join_states(forward_h, backward_h)

    def _merge(self, forward: Tensor, backward: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        if self.merge is None:
            return forward, backward
        return merge_directions(forward, backward, self.merge)

    def extra_repr(self) -> str:
        return f"merge={self.merge!r}"


def merge_directions(forward: Tensor, backward: Tensor, merge: str) -> Tensor:
    """Combine two directions' features (outputs or states) as :class:`Bidirectional` does.

    ``"concat"`` puts them side by side on the last dimension; ``"sum"``, ``"mean"``, ``"max"``
    and ``"mul"`` combine them elementwise.

    Example::

        >>> merge_directions(torch.ones(2, 3), torch.zeros(2, 3), "mean")
        tensor([[0.5000, 0.5000, 0.5000],
                [0.5000, 0.5000, 0.5000]])
    """
    if merge == "concat":
        return torch.cat((forward, backward), -1)
    if merge == "sum":
        return forward + backward
    if merge == "mean":
        return (forward + backward) / 2
    if merge == "max":
        return torch.maximum(forward, backward)
    if merge == "mul":
        return forward * backward
    raise ValueError(f"merge must be one of 'concat', 'sum', 'mean', 'max', 'mul', got {merge!r}")


def _split_state(hx: State) -> tuple[State, State]:
    """Split ``(2 * num_layers, ...)`` states, ordered layer by layer, into the two directions."""
    if isinstance(hx, Tensor):
        return hx[0::2], hx[1::2]
    if isinstance(hx, (tuple, list)) and all(isinstance(part, Tensor) for part in hx):
        return tuple(part[0::2] for part in hx), tuple(part[1::2] for part in hx)
    raise TypeError(
        f"Bidirectional: hx must be a Tensor or a tuple of Tensors, got {type(hx).__name__}"
    )


def _join_states(forward: State, backward: State) -> State:
    """Interleave the directions' states layer by layer: ``l0, l0_reverse, l1, ...``."""
    if isinstance(forward, Tensor):
        # (num_layers, 2, ...) -> (2 * num_layers, ...)
        return torch.stack((forward, backward), 1).flatten(0, 1)
    return tuple(torch.stack(pair, 1).flatten(0, 1) for pair in zip(forward, backward, strict=True))
