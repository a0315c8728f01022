r"""Recurrent cells: one time step of a vanilla RNN, LSTM, GRU, layer-norm LSTM, minGRU, minLSTM.

Every cell keeps the *step contract* that :class:`seqmodels.Recurrent` relies on to unroll it over
time, stack it in layers, run it backwards and over variable lengths:

* ``input_size``, ``hidden_size`` and ``state_sizes``: the feature size of each state tensor, in
  order; the first state tensor is the cell's output. ``(H,)`` for RNN and GRU, ``(H_out, H)``
  for an LSTM (``H_out`` is ``proj_size`` when projecting, else ``H``).
* ``project_input(input)``: the part of the step that depends on the input only, for inputs of any
  leading shape ``(*, input_size)``. A layer calls it once for all time steps (one big matmul).
* ``step(projected, state)``: the rest of the step, from one projected input ``(N, P)`` and the
  state (a tensor, or a tuple of tensors when ``len(state_sizes) > 1``) to the new state.
* ``scan(projected, batch_sizes, state)``: ``step`` over a batch of sequences in the packed
  layout (``batch_sizes[t]`` rows of ``projected`` for step ``t``, sequences sorted by decreasing
  length), returning the outputs in the same layout and each sequence's final state. The base
  class loops over ``step``; a cell may override it with a faster equivalent (``MinGRUCell``
  runs a parallel scan).

``forward(input, hx=None)`` matches the ``torch.nn`` cell of the same name: batched ``(N, H_in)``
or unbatched ``(H_in)`` input, a zero state when ``hx`` is None, and the same return values.
Subclass :class:`RecurrentCell` to write a new cell; it gets multi-layer, bidirectional, lengths
and ``PackedSequence`` support from :class:`seqmodels.Recurrent` for free.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqmodels.fused import ACTIVATIONS, linear_scan, packed_rows, padded
from seqmodels.registry import register_cell

State = Tensor | tuple[Tensor, ...]

__all__ = [
    "RecurrentCell",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "LayerNormLSTMCell",
    "LayerNormGRUCell",
    "MinimalCell",
    "MinGRUCell",
    "MinLSTMCell",
]


class RecurrentCell(nn.Module):
    """Base class of the cells: input checks and ``forward`` built on the step contract.

    Subclasses set ``input_size``, ``hidden_size`` and ``state_sizes`` and implement
    :meth:`project_input` and :meth:`step`. The default :meth:`reset_parameters` draws every
    parameter from :math:`\\mathcal{U}(-k, k)` with :math:`k = 1/\\sqrt{H}`, as ``torch.nn`` does.
    """

    input_size: int
    hidden_size: int
    state_sizes: tuple[int, ...]
    #: how many state tensors the cell carries (``len(state_sizes)``: 2 for an LSTM's ``(h, c)``)
    num_states: int = 1
    #: where a layer of this cell computes in full precision under autocast, as its
    #: ``torch.nn`` twin does: device types (``"cpu"``: ``torch.nn.GRU``), or ``"cpu:packed"``
    #: for packed input only (``torch.nn.LSTM``); elsewhere it computes in the autocast dtype
    autocast_full_precision: tuple[str, ...] = ()
    #: the parameters that multiply the previous state ``h`` (hidden-to-hidden weights): the
    #: targets of :class:`seqmodels.Recurrent`'s ``weight_drop``. Empty for a cell whose state
    #: enters its step only element-wise (then ``weight_drop`` and ``recurrent_dropout`` have
    #: nothing to act on and are refused)
    hidden_weights: tuple[str, ...] = ("weight_hh",)

    def project_input(self, input: Tensor) -> Tensor:
        """Input-dependent part of the step, ``(*, input_size) -> (*, P)``."""
        raise NotImplementedError

    def step(self, projected: Tensor, state: State) -> State:
        """One time step from a projected input ``(N, P)`` and the state to the new state."""
        raise NotImplementedError

    def scan(self, projected: Tensor, batch_sizes: list[int], state: State) -> tuple[Tensor, State]:
        """Run :meth:`step` over sequences in the packed layout.

        Args:
            projected: ``(S, P)``, ``S = sum(batch_sizes)``: the projected inputs of step 0 for
                all ``N`` sequences, then of step 1 for those still running, and so on
                (sequences sorted by decreasing length, as in a ``PackedSequence``; a dense
                batch is ``L`` equal batch sizes).
            batch_sizes: the number of sequences running at each step.
            state: the initial state of the ``N`` sequences.

        Returns:
            the outputs ``(S, H_out)`` in the same layout, and each sequence's final state.
        """
        outputs, final = step_scan(self.step_parts, projected, batch_sizes, as_parts(state))
        return outputs, from_parts(final)

    def step_parts(self, projected: Tensor, parts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        """:meth:`step` on the state as the layers hold it inside: always a tuple, one tensor
        per state component (``(h,)``, ``(h, c)``)."""
        return as_parts(self.step(projected, from_parts(parts)))

    def masked_scan(
        self, projected: Tensor, batch_sizes: list[int], state: State, mask: Tensor
    ) -> tuple[Tensor, State]:
        """:meth:`scan` with recurrent dropout: :meth:`step` reads the previous output state
        ``h`` times ``mask`` ``(N, H_out)``, one row per sequence, reused at every step
        (:func:`masked_step`). Here the step loop; a cell may override it with an equivalent.
        """
        step = functools.partial(masked_step, self.step_parts, mask)
        outputs, final = step_scan(step, projected, batch_sizes, as_parts(state))
        return outputs, from_parts(final)

    def _create_weights(
        self, gates: int, recurrent_size: int, bias: bool, factory: dict[str, object]
    ) -> None:
        """Create ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` for stacked gates."""
        rows = gates * self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, self.input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(rows, recurrent_size, **factory))
        for name in ("bias_ih", "bias_hh"):
            value = nn.Parameter(torch.empty(rows, **factory)) if bias else None
            self.register_parameter(name, value)

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            nn.init.uniform_(weight, -k, k)

    def initial_state(self, batch_size: int, like: Tensor) -> State:
        """Zero state for ``batch_size`` sequences, with the dtype and device of ``like``."""
        zeros = tuple(like.new_zeros(batch_size, size) for size in self.state_sizes)
        return zeros[0] if len(zeros) == 1 else zeros

    def forward(self, input: Tensor, hx: State | None = None) -> State:
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead (shape "
                f"{tuple(input.shape)}): (H_in) unbatched or (N, H_in) batched"
            )
        if input.size(-1) != self.input_size:
            raise ShapeError(
                f"{name}: input has inconsistent input_size: got {input.size(-1)} expected "
                f"{self.input_size}"
            )
        if not autocast_enabled(input.device.type):
            check_matches_parameters(self, input, "input")
        unbatched = input.dim() == 1
        batch = input.unsqueeze(0) if unbatched else input
        if hx is None:
            state = self.initial_state(batch.size(0), batch)
        else:
            parts = check_cell_state(self, hx, batch.size(0), unbatched)
            if unbatched:
                parts = tuple(part.unsqueeze(0) for part in parts)
            for part in parts:
                check_matches_parameters(self, part, "hx")
            state = from_parts(parts)
        new_state = self.step(self.project_input(batch), state)
        if unbatched:
            return from_parts(tuple(part.squeeze(0) for part in as_parts(new_state)))
        return new_state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def as_parts(state: State) -> tuple[Tensor, ...]:
    """A state in the layers' inside form: a tuple, one tensor per state component."""
    return state if isinstance(state, tuple) else (state,)


def from_parts(parts: tuple[Tensor, ...]) -> State:
    """A state in the cells' and ``torch.nn``'s form: one tensor, or a tuple of several."""
    return parts[0] if len(parts) == 1 else parts


Parts = tuple[Tensor, ...]


def step_scan(
    step: Callable[[Tensor, Parts], Parts],
    projected: Tensor,
    batch_sizes: list[int],
    parts: Parts,
) -> tuple[Tensor, Parts]:
    """The step loop of :meth:`RecurrentCell.scan` for any ``step(projected, parts) -> parts``
    (states as tuples, see :meth:`RecurrentCell.step_parts`).

    Sequences that end drop out of the batch (the packed layout); their final state is kept
    as it was after their last step.
    """
    current = parts
    ended: list[Parts] = []  # states of sequences that ended, latest first
    outputs = []
    for x, size in zip(projected.split(batch_sizes), batch_sizes, strict=True):
        if size < current[0].size(0):  # sequences size.. end here
            ended.append(tuple(s[size:] for s in current))
            current = tuple(s[:size] for s in current)
        current = step(x, current)
        outputs.append(current[0])
    ended.append(current)
    final = tuple(torch.cat(parts[::-1]) for parts in zip(*ended, strict=True))
    return torch.cat(outputs), final


def masked_step(
    step: Callable[[Tensor, Parts], Parts], mask: Tensor, projected: Tensor, parts: Parts
) -> Parts:
    """``step(projected, parts)`` reading the previous output state ``h`` times the first rows
    of ``mask`` (the sequences still running); an LSTM's cell state is not masked."""
    h, *rest = parts
    return step(projected, (h * mask[: h.size(0)], *rest))


class ShapeError(ValueError, RuntimeError):
    """A tensor of the wrong shape: a ``RuntimeError`` as ``torch.nn`` raises it, and a
    ``ValueError`` (a bad argument value)."""


class DtypeError(TypeError, ValueError, RuntimeError):
    """An input whose dtype differs from the parameters': a ``ValueError`` as ``torch.nn``'s
    layers raise it, a ``RuntimeError`` as its cells do, and a ``TypeError``."""


class DeviceError(ValueError, RuntimeError):
    """An input on another device than the parameters: a ``RuntimeError`` as ``torch.nn``
    raises it, and a ``ValueError``."""


def check_cell_state(
    cell: RecurrentCell, hx: object, batch_size: int, unbatched: bool
) -> tuple[Tensor, ...]:
    """Check a cell's ``hx`` against its input as ``torch.nn``'s cells do (same exception
    types and wording); returns the state as a tuple."""
    name = type(cell).__name__
    parts = check_state_form(cell, hx, len(cell.state_sizes), "hx")
    for index, (part, size) in enumerate(zip(parts, cell.state_sizes, strict=True)):
        label = "hidden" if len(parts) == 1 else f"hx[{index}]"
        if part.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected {label} to be 1D or 2D, got {part.dim()}D instead")
        if part.dim() != (1 if unbatched else 2):
            raise ShapeError(
                f"{name}: For {'unbatched 1-D' if unbatched else 'batched 2-D'} input, {label} "
                f"should also be {1 if unbatched else 2}-D but got {part.dim()}-D tensor"
            )
        if not unbatched and part.size(0) != batch_size:
            raise ShapeError(
                f"{name}: Input batch size {batch_size} doesn't match hidden{index} batch size "
                f"{part.size(0)}"
            )
        if part.size(-1) != size:
            raise ShapeError(
                f"{name}: hidden{index} has inconsistent hidden_size: got {part.size(-1)}, "
                f"expected {size}"
            )
    return parts


def check_state_form(owner: nn.Module, hx: object, count: int, what: str) -> tuple[Tensor, ...]:
    """Check that ``hx`` is one tensor (``count == 1``) or a tuple of ``count`` tensors."""
    name = type(owner).__name__
    if count == 1:
        if not isinstance(hx, Tensor):
            raise TypeError(f"{name}: {what} must be a Tensor, got {type(hx).__name__}")
        return (hx,)
    if not (
        isinstance(hx, (tuple, list))
        and len(hx) == count
        and all(isinstance(part, Tensor) for part in hx)
    ):
        got = type(hx).__name__ + (f" of length {len(hx)}" if isinstance(hx, tuple) else "")
        raise TypeError(f"{name}: {what} must be a tuple of {count} tensors (h, c), got {got}")
    return tuple(hx)


def check_state(
    owner: nn.Module, hx: object, shapes: list[tuple[int, ...]], what: str
) -> tuple[Tensor, ...]:
    """Check that ``hx`` is one tensor (or a tuple of tensors) of the given shapes.

    Returns the state as a tuple. Errors name the owner, the expected form and the shapes.
    """
    name = type(owner).__name__
    parts = check_state_form(owner, hx, len(shapes), what)
    for index, (part, shape) in enumerate(zip(parts, shapes, strict=True)):
        if tuple(part.shape) != tuple(shape):
            label = what if len(shapes) == 1 else f"{what}[{index}]"
            raise ShapeError(
                f"{name}: Expected hidden size {tuple(shape)}, got {list(part.shape)}: {label} "
                f"must have shape {tuple(shape)}"
            )
    return parts


def check_matches_parameters(owner: nn.Module, tensor: Tensor, what: str) -> None:
    """Raise a :class:`DtypeError` or a ValueError when ``tensor`` has another dtype or device
    than the weights."""
    weight = next(owner.parameters(), None)
    if weight is None:
        return
    name = type(owner).__name__
    if tensor.dtype != weight.dtype:
        raise DtypeError(
            f"{name}: {what} dtype ({tensor.dtype}) does not match weight dtype "
            f"({weight.dtype}). Convert {what}: {what}.to({weight.dtype}), or convert the model: "
            f"model.to({tensor.dtype})"
        )
    if tensor.device != weight.device:
        raise DeviceError(
            f"{name}: {what} is on device {tensor.device} but the parameters are on {weight.device}"
        )


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` (devices without autocast, e.g. meta: no)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


def check_sizes(input_size: int, hidden_size: int) -> None:
    """A cell's argument checks with ``torch.nn``'s exception types: integer sizes (a
    TypeError otherwise; zero is allowed, as ``torch.nn``'s cells allow it). Like ``torch.nn``'s
    cells, a cell takes ``bias`` by its truth value (the layers check its type)."""
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{arg} should be of type int, got: {type(value).__name__}")
        if value < 0:
            raise ValueError(f"{arg} must be a non-negative integer, got {value}")


def lstm_step(
    projected: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor
) -> tuple[Tensor, Tensor]:
    """One LSTM step without projection (see :class:`LSTMCell`): ``(h, c) -> (h', c')``."""
    h, c = state
    gates = torch.addmm(projected, h, weight_hh.t())  # (N, 4H)
    i, f, g, o = gates.unsafe_chunk(4, 1)
    c = torch.addcmul(f.sigmoid() * c, i.sigmoid(), g.tanh())
    return o.sigmoid() * c.tanh(), c


def gru_step(
    projected: Tensor,
    state: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    norm_weight: Tensor | None = None,
    norm_bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """One GRU step (see :class:`GRUCell`): ``h -> h'``. With ``norm_weight`` and ``norm_bias``,
    the hidden contribution is layer-normalised first, as in :class:`LayerNormGRUCell`."""
    hidden = F.linear(state, weight_hh, bias_hh)  # (N, 3H)
    if norm_weight is not None:
        hidden = F.layer_norm(hidden, hidden.shape[1:], norm_weight, norm_bias, eps)
    x_r, x_z, x_n = projected.chunk(3, 1)
    h_r, h_z, h_n = hidden.chunk(3, 1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (state - n)


def rnn_step(projected: Tensor, state: Tensor, weight_hh: Tensor, nonlinearity: str) -> Tensor:
    """One Elman RNN step (see :class:`RNNCell`): ``h -> h'``."""
    return ACTIVATIONS[nonlinearity](torch.addmm(projected, state, weight_hh.t()))


class RNNCell(RecurrentCell):
    r"""An Elman RNN cell with tanh, ReLU, sigmoid or leaky-ReLU non-linearity.

    .. math::
        h' = \sigma(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in the hidden state ``h``.
        bias: if ``False``, the cell has no ``b_ih`` and ``b_hh``.
        nonlinearity: ``'tanh'`` (default), ``'relu'``, ``'sigmoid'`` or ``'leaky_relu'``.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; hx and output ``(N, H)`` or ``(H)``.

    Attributes:
        weight_ih ``(H, H_in)``, weight_hh ``(H, H)``, bias_ih ``(H)``, bias_hh ``(H)``, named and
        shaped as in :class:`torch.nn.RNNCell`.

    Example::

        >>> cell = RNNCell(10, 20, nonlinearity="relu")
        >>> h = cell(torch.randn(3, 10))
        >>> h.shape
        torch.Size([3, 20])
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(
                f"nonlinearity must be one of {', '.join(map(repr, ACTIVATIONS))}, "
                f"got {nonlinearity!r}"
            )
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size,)
        self.bias, self.nonlinearity = bias, nonlinearity
        self._create_weights(1, hidden_size, bias, factory)
        self.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return F.linear(input, self.weight_ih, bias)

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        return rnn_step(projected, state, self.weight_hh, self.nonlinearity)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bias={self.bias}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(RecurrentCell):
    r"""A long short-term memory cell, with an optional projection of the hidden state.

    .. math::
        \begin{array}{ll}
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \\
        h' = o \odot \tanh(c') \quad (\text{then } h' = W_{hr} h' \text{ if } proj\_size > 0)
        \end{array}

    Gates are stacked in the order ``i, f, g, o`` as in :class:`torch.nn.LSTMCell`.

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in the cell state ``c``.
        bias: if ``False``, the cell has no ``b_ih`` and ``b_hh``.
        proj_size: if ``> 0``, ``h`` is projected to this size by ``weight_hr`` (as in
            :class:`torch.nn.LSTM`); must be smaller than ``hidden_size``.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; ``hx = (h, c)`` with ``h`` of ``(N, H_out)`` and ``c``
        of ``(N, H)`` (or without ``N``); returns ``(h', c')`` of the same shapes.
        ``H_out = proj_size`` if ``proj_size > 0`` else ``hidden_size``.

    Attributes:
        weight_ih ``(4H, H_in)``, weight_hh ``(4H, H_out)``, bias_ih ``(4H)``, bias_hh ``(4H)``,
        weight_hr ``(H_out, H)`` when projecting.

    Example::

        >>> cell = LSTMCell(10, 20)
        >>> h, c = cell(torch.randn(3, 10))
        >>> h.shape, c.shape
        (torch.Size([3, 20]), torch.Size([3, 20]))
    """

    autocast_full_precision = ("cpu:packed",)  # torch.nn.LSTM's packed path is not autocast
    num_states = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        if not isinstance(proj_size, int) or isinstance(proj_size, bool):
            raise TypeError(f"proj_size should be of type int, got: {type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections, got "
                f"{proj_size}"
            )
        if proj_size and proj_size >= hidden_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size, got proj_size={proj_size} "
                f">= hidden_size={hidden_size}"
            )
        factory = {"device": device, "dtype": dtype}
        out_size = proj_size or hidden_size
        self.input_size, self.hidden_size, self.proj_size = input_size, hidden_size, proj_size
        self.state_sizes = (out_size, hidden_size)
        self.bias = bias
        self._create_weights(4, out_size, bias, factory)
        if proj_size:
            self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size, **factory))
        else:
            self.register_parameter("weight_hr", None)
        self.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        bias = self.bias_ih + self.bias_hh if self.bias else None
        return F.linear(input, self.weight_ih, bias)

    def step(self, projected: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = lstm_step(projected, state, self.weight_hh)
        if self.weight_hr is not None:
            h = h @ self.weight_hr.t()
        return h, c

    def extra_repr(self) -> str:
        proj = f", proj_size={self.proj_size}" if self.proj_size else ""
        return f"{super().extra_repr()}, bias={self.bias}{proj}"


class GRUCell(RecurrentCell):
    r"""A gated recurrent unit cell, with the reset gate applied after the hidden matmul.

    .. math::
        \begin{array}{ll}
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' = (1 - z) \odot n + z \odot h
        \end{array}

    Gates are stacked in the order ``r, z, n`` as in :class:`torch.nn.GRUCell`.

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in the hidden state ``h``.
        bias: if ``False``, the cell has no ``b_ih`` and ``b_hh``.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; hx and output ``(N, H)`` or ``(H)``.

    Attributes:
        weight_ih ``(3H, H_in)``, weight_hh ``(3H, H)``, bias_ih ``(3H)``, bias_hh ``(3H)``.

    Example::

        >>> cell = GRUCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    autocast_full_precision = ("cpu",)  # torch.nn.GRU is not autocast on the CPU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size,)
        self.bias = bias
        self._create_weights(3, hidden_size, bias, factory)
        self.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight_ih, self.bias_ih)

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        return gru_step(projected, state, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bias={self.bias}"


@register_cell("layernorm_lstm")
class LayerNormLSTMCell(RecurrentCell):
    r"""An LSTM cell with layer normalisation on the gate pre-activations and the cell state.

    The variant of PyTorch's ``benchmarks/fastrnns/custom_lstms.py`` (and haste's
    ``LayerNormLSTM``): the input and hidden contributions are normalised separately, and the
    layer-norm shifts take the place of the biases.

    .. math::
        \begin{array}{ll}
        (i, f, g, o) = \mathrm{LN}_i(W_{ih} x) + \mathrm{LN}_h(W_{hh} h) \\
        c' = \mathrm{LN}_c(\sigma(f) \odot c + \sigma(i) \odot \tanh(g)) \\
        h' = \sigma(o) \odot \tanh(c')
        \end{array}

    ``torch.nn`` has no twin for this cell; it is here to show the extension point: written once
    as a cell, it runs as a multi-layer, bidirectional layer over variable lengths through
    :class:`seqmodels.Recurrent`.

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in ``h`` and ``c``.
        eps: the layer norms' epsilon.
        normalize_cell: normalise the cell state (:math:`\mathrm{LN}_c`, the default); with
            ``False`` it is left as is, as in haste's ``LayerNormLSTM``, and the cell has no
            ``layernorm_c``.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; ``hx = (h, c)`` each ``(N, H)`` or ``(H)``.

    Example::

        >>> layer = Recurrent(LayerNormLSTMCell, 10, 20, num_layers=2, bidirectional=True)
        >>> output, (h, c) = layer(torch.randn(5, 3, 10))
        >>> output.shape, h.shape
        (torch.Size([5, 3, 40]), torch.Size([4, 3, 20]))
    """

    num_states = 2

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        normalize_cell: bool = True,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size, hidden_size)
        self._create_weights(4, hidden_size, False, factory)
        self.layernorm_i = nn.LayerNorm(4 * hidden_size, eps=eps, **factory)
        self.layernorm_h = nn.LayerNorm(4 * hidden_size, eps=eps, **factory)
        self.layernorm_c = nn.LayerNorm(hidden_size, eps=eps, **factory) if normalize_cell else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_layer_norm_cell(self)

    def project_input(self, input: Tensor) -> Tensor:
        return self.layernorm_i(F.linear(input, self.weight_ih))

    def step(self, projected: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        h, c = state
        gates = projected + self.layernorm_h(h @ self.weight_hh.t())  # (N, 4H)
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.layernorm_c is not None:
            c = self.layernorm_c(c)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


@register_cell("layernorm_gru")
class LayerNormGRUCell(RecurrentCell):
    r"""A GRU cell with layer normalisation on the input and hidden contributions to the gates.

    haste's ``LayerNormGRU``: the input and hidden projections are normalised separately, the
    layer-norm shifts take the place of the biases, and the reset gate is applied after the hidden
    matmul as in :class:`GRUCell`.

    .. math::
        \begin{array}{ll}
        (x_r, x_z, x_n) = \mathrm{LN}_i(W_{ih} x), \quad
        (h_r, h_z, h_n) = \mathrm{LN}_h(W_{hh} h) \\
        r = \sigma(x_r + h_r), \quad z = \sigma(x_z + h_z), \quad
        n = \tanh(x_n + r \odot h_n) \\
        h' = (1 - z) \odot n + z \odot h
        \end{array}

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in ``h``.
        eps: the layer norms' epsilon.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; hx and output ``(N, H)`` or ``(H)``.

    Example::

        >>> layer = Recurrent(LayerNormGRUCell, 10, 20, num_layers=2, batch_first=True)
        >>> output, h = layer(torch.randn(3, 5, 10), lengths=torch.tensor([5, 2, 4]))
        >>> output.shape, h.shape
        (torch.Size([3, 5, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size,)
        self._create_weights(3, hidden_size, False, factory)
        self.layernorm_i = nn.LayerNorm(3 * hidden_size, eps=eps, **factory)
        self.layernorm_h = nn.LayerNorm(3 * hidden_size, eps=eps, **factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_layer_norm_cell(self)

    def project_input(self, input: Tensor) -> Tensor:
        return self.layernorm_i(F.linear(input, self.weight_ih))

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        norm = self.layernorm_h
        return gru_step(projected, state, self.weight_hh, None, norm.weight, norm.bias, norm.eps)


def _reset_layer_norm_cell(cell: RecurrentCell) -> None:
    r"""Weights from :math:`\mathcal{U}(-k, k)`, :math:`k = 1/\sqrt{H}`; layer norms to (1, 0)."""
    k = 1.0 / math.sqrt(cell.hidden_size)
    nn.init.uniform_(cell.weight_ih, -k, k)
    nn.init.uniform_(cell.weight_hh, -k, k)
    for module in cell.children():
        if isinstance(module, nn.LayerNorm):
            module.reset_parameters()


class MinimalCell(RecurrentCell):
    r"""Base of minGRU and minLSTM (Feng et al., 2024): gates that read the input only.

    The new state is a linear function of the old one, :math:`h' = a \odot h + b`, with
    :math:`a, b` computed from the input alone (:meth:`coefficients`). :meth:`step` is the
    readable reference; :meth:`scan` computes the gates of all steps at once and runs the
    recurrence with :func:`~seqmodels.fused.linear_scan` (a parallel scan, or on the CPU a
    hand-written loop; same values to float rounding). In the
    packed layout a sequence that ended stops: its padded steps have :math:`a = 1, b = 0`.

    The state enters only element-wise: the cell has no hidden-to-hidden weights
    (``hidden_weights`` is empty), so ``weight_drop`` and ``recurrent_dropout`` are refused;
    ``zoneout`` applies.
    """

    hidden_weights = ()
    gates: int  # the number of H-sized blocks of the projected input

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        norm: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.state_sizes = (hidden_size,)
        self.bias, self.norm = bias, norm
        self.layernorm = nn.LayerNorm(input_size, **factory) if norm else None
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(rows, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.input_size)  # as nn.Linear: the projection reads the input
        nn.init.uniform_(self.weight_ih, -k, k)
        if self.bias_ih is not None:
            nn.init.uniform_(self.bias_ih, -k, k)
        if self.layernorm is not None:
            self.layernorm.reset_parameters()

    def project_input(self, input: Tensor) -> Tensor:
        if self.layernorm is not None:
            input = self.layernorm(input)
        return F.linear(input, self.weight_ih, self.bias_ih)

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        """``(a, b)`` of :math:`h' = a \\odot h + b` for projected inputs ``(*, P)``."""
        raise NotImplementedError

    def scan(
        self, projected: Tensor, batch_sizes: list[int], state: Tensor
    ) -> tuple[Tensor, Tensor]:
        """All steps at once with :func:`~seqmodels.fused.linear_scan`."""
        a, b = self.coefficients(projected)  # (S, H) each
        steps = linear_scan(
            padded(a, batch_sizes, 1.0), padded(b, batch_sizes, 0.0), state
        )  # (L, N, H); a sequence's state stays as it was after its end
        return packed_rows(steps, batch_sizes), steps[-1]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bias={self.bias}, norm={self.norm}"


# minGRU / minLSTM come in the paper's block: pre-norm before the input projection and residual
# connections between layers (without them, stacked minimal cells train poorly)
_MINIMAL_BLOCK = {"norm": True, "residual": True}


@register_cell("mingru", arguments=_MINIMAL_BLOCK)
class MinGRUCell(MinimalCell):
    r"""minGRU (Feng et al., 2024, "Were RNNs All We Needed?"): a GRU whose gate and candidate
    read the input only.

    .. math::
        \begin{array}{ll}
        z = \sigma(W_{iz} x + b_{iz}), \quad \tilde{h} = W_{ih} x + b_{ih} \\
        h' = (1 - z) \odot h + z \odot \tilde{h}
        \end{array}

    Args:
        input_size: the number of expected features in the input ``x``.
        hidden_size: the number of features in the hidden state ``h``.
        bias: if ``False``, the projection has no ``bias_ih``.
        norm: layer-normalise the input before the projection (the pre-norm of the paper's
            block; :func:`seqmodels.build_recurrent` turns it on).

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; hx and output ``(N, H)`` or ``(H)``.

    Attributes:
        weight_ih ``(2H, H_in)``, bias_ih ``(2H)``: ``z`` then ``\tilde{h}``; ``layernorm``
        when ``norm``.

    Example::

        >>> layer = Recurrent(MinGRUCell, 10, 20, num_layers=2)
        >>> output, h_n = layer(torch.randn(300, 4, 10))  # one parallel scan per layer
        >>> output.shape, h_n.shape
        (torch.Size([300, 4, 20]), torch.Size([2, 4, 20]))
    """

    gates = 2

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        x_z, candidate = projected.chunk(2, 1)
        z = torch.sigmoid(x_z)
        return (1 - z) * state + z * candidate

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        x_z, candidate = projected.chunk(2, -1)
        z = torch.sigmoid(x_z)
        return 1 - z, z * candidate


@register_cell("minlstm", arguments=_MINIMAL_BLOCK)
class MinLSTMCell(MinimalCell):
    r"""minLSTM (Feng et al., 2024): an LSTM whose gates read the input only, with the forget
    and input gates normalised to sum to one and no output gate or separate cell state.

    .. math::
        \begin{array}{ll}
        f = \sigma(W_{if} x + b_{if}), \quad i = \sigma(W_{ii} x + b_{ii}), \quad
        \tilde{h} = W_{ih} x + b_{ih} \\
        h' = \frac{f}{f + i} \odot h + \frac{i}{f + i} \odot \tilde{h}
        \end{array}

    :math:`f / (f + i)` is computed as :math:`\sigma(\log \sigma(x_f) - \log \sigma(x_i))`,
    which stays finite where both gates underflow.

    Args:
        input_size, hidden_size, bias, norm: as for :class:`MinGRUCell`.

    Shapes:
        input ``(N, H_in)`` or ``(H_in)``; hx and output ``(N, H)`` or ``(H)`` (one state
        tensor, unlike the LSTM).

    Attributes:
        weight_ih ``(3H, H_in)``, bias_ih ``(3H)``: ``f``, ``i`` then ``\tilde{h}``.

    Example::

        >>> cell = MinLSTMCell(10, 20)
        >>> cell(torch.randn(3, 10)).shape
        torch.Size([3, 20])
    """

    gates = 3

    def step(self, projected: Tensor, state: Tensor) -> Tensor:
        x_f, x_i, candidate = projected.chunk(3, 1)
        forget = torch.sigmoid(F.logsigmoid(x_f) - F.logsigmoid(x_i))  # f / (f + i)
        return forget * state + (1 - forget) * candidate

    def coefficients(self, projected: Tensor) -> tuple[Tensor, Tensor]:
        x_f, x_i, candidate = projected.chunk(3, -1)
        forget = torch.sigmoid(F.logsigmoid(x_f) - F.logsigmoid(x_i))
        return forget, (1 - forget) * candidate
