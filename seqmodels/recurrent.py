r"""The time loop: :class:`Recurrent` unrolls any cell; :class:`RNN`, :class:`LSTM`, :class:`GRU`.

A layer owns the loop over time, the stacking of layers and directions, dropout between layers,
initial states and variable lengths; a cell (see :mod:`seqmodels.cells`) does one step. The
cells are ordinary submodules (``layer.cells[k]``, in the order ``l0, l0_reverse, l1, ...``).
The layer's state dict names their entries as ``torch.nn`` does (``weight_ih_l0``,
``bias_hh_l1_reverse``, ...) and in its order, so ``load_state_dict`` moves weights both ways
between ``seqmodels`` and ``torch.nn`` with ``strict=True``; ``layer.weight_ih_l0`` reads and
sets the cell's tensor.

Shapes follow ``torch.nn.RNN`` (``N`` batch, ``L`` sequence length, ``D`` 2 if bidirectional
else 1, ``H_in`` input size, ``H_out`` output size of the cell):

============  ===========================================================================
input         ``(L, N, H_in)``, ``(N, L, H_in)`` with ``batch_first``, ``(L, H_in)`` unbatched,
              or a ``PackedSequence``
hx, h_n       ``(D * num_layers, N, H_out)`` whatever ``batch_first`` is (no ``N`` when
              unbatched); a tuple ``(h, c)`` for LSTM cells, ``c`` of size ``hidden_size``
output        ``(L, N, D * H_out)`` (``(N, L, D * H_out)`` with ``batch_first``), or a
              ``PackedSequence`` when the input was one
============  ===========================================================================
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from seqmodels.cells import (
    GRUCell,
    LSTMCell,
    RecurrentCell,
    RNNCell,
    State,
    autocast_enabled,
    check_matches_parameters,
    check_state,
    masked_step,
    step_scan,
)
from seqmodels.fused import sequence_lengths

__all__ = ["Recurrent", "RNN", "LSTM", "GRU", "REGULARISERS"]

#: the options of :class:`Recurrent` that regularise the recurrence (all off by default)
REGULARISERS = ("recurrent_dropout", "weight_drop", "zoneout")


class Recurrent(nn.Module):
    r"""Unrolls any cell over time: layers, directions, dropout, lengths and packed input.

    Each step of the loop costs one call of ``cell.step``; the input projections of all time
    steps are computed before the loop in one ``cell.project_input`` call per layer and
    direction. Packed input (or padded input with ``lengths``) is run the way ``torch.nn`` does:
    sequences sorted by length, the batch shrinking as sequences end, so no step is computed on
    padding and final states are taken at each sequence's last valid step.

    Args:
        cell: a :class:`~seqmodels.cells.RecurrentCell` subclass (or any callable
            ``cell(input_size, hidden_size, **cell_kwargs)`` returning a cell that keeps the
            step contract).
        input_size: the number of features of the input.
        hidden_size: the cell's hidden size.
        num_layers: the number of stacked layers; layer ``k > 0`` reads the outputs of layer
            ``k - 1`` (both directions concatenated).
        batch_first: if ``True``, input and output are ``(N, L, H)`` (states are not affected).
        dropout: dropout probability on the outputs of each layer but the last, in training.
        bidirectional: if ``True``, each layer also runs a cell backwards over each sequence and
            concatenates both outputs, as ``torch.nn.LSTM(bidirectional=True)`` does. For other
            ways to merge the directions see :class:`seqmodels.Bidirectional`.
        recurrent_dropout: variational dropout (Gal & Ghahramani, 2016) on the recurrent input:
            the previous output state :math:`h_{t-1}` is multiplied by one mask per sequence,
            layer and direction, drawn once per forward and reused at every step. The cell's
            step reads the masked :math:`h_{t-1}` everywhere (an LSTM's :math:`c` is not
            masked; for a GRU this includes the carried term :math:`z \odot h_{t-1}`).
        weight_drop: DropConnect on the hidden-to-hidden weights (the cell's
            ``hidden_weights``, ``weight_hh`` for the built-in cells), one mask per forward
            shared by all steps and sequences, as AWD-LSTM's weight drop (Merity et al., 2018).
            The parameters stay in place (the state dict and ``.to()`` are unaffected); the
            masked weights are passed in for the forward only.
        zoneout: zoneout (Krueger et al., 2017) on every state tensor: each unit keeps its
            previous value with this probability, a fresh mask at every step,
            :math:`s_t = m_t \odot s_{t-1} + (1 - m_t) \odot \tilde{s}_t`. In eval mode the
            expectation :math:`s_t = p\, s_{t-1} + (1 - p)\, \tilde{s}_t`.
        residual: if ``True``, every layer but the first adds its input to its output
            (:math:`x_{k+1} = x_k + \mathrm{layer}_k(x_k)`, before the next layer's dropout), as
            deep stacks of minGRU / minLSTM need (Feng et al., 2024).
        **cell_kwargs: passed to every cell (e.g. ``bias``, ``nonlinearity``, ``proj_size``,
            ``device``, ``dtype``).

    The three regularisers are off by default, and then the layer computes exactly what it
    computes without them. Dropout masks are only drawn in training; ``recurrent_dropout`` and
    ``weight_drop`` are the identity in eval mode. ``weight_drop`` keeps the built-in cells'
    fused scans, and so does ``recurrent_dropout`` for the RNN, GRU and LSTM cells
    (``cell.masked_scan``; other cells run their ``step`` loop with it); ``zoneout`` draws a
    mask at every step, so the layer then runs the cell's ``step`` loop.

    Inputs: ``input, hx=None, lengths=None``. ``lengths`` (``(N,)`` integers on any device,
    any order) marks the valid steps of padded input; padded output positions are zeros.

    Outputs: ``output, h_n`` (see the shape table of :mod:`seqmodels.recurrent`).

    Example::

        >>> from seqmodels import LayerNormLSTMCell
        >>> layer = Recurrent(LayerNormLSTMCell, 8, 16, num_layers=2, batch_first=True)
        >>> x, lengths = torch.randn(4, 7, 8), torch.tensor([7, 3, 5, 1])
        >>> output, (h, c) = layer(x, lengths=lengths)
        >>> output.shape, h.shape
        (torch.Size([4, 7, 16]), torch.Size([2, 4, 16]))
    """

    def __init__(
        self,
        cell: Callable[..., RecurrentCell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        residual: bool = False,
        **cell_kwargs: object,
    ) -> None:
        super().__init__()
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        for option, value in (
            ("dropout", dropout),
            ("recurrent_dropout", recurrent_dropout),
            ("weight_drop", weight_drop),
            ("zoneout", zoneout),
        ):
            check_probability(option, value)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=2,
            )
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.batch_first = num_layers, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        num_directions = 2 if bidirectional else 1
        cells: list[RecurrentCell] = []
        for layer in range(num_layers):
            for _ in range(num_directions):
                layer_input = input_size if layer == 0 else num_directions * cells[0].state_sizes[0]
                cells.append(cell(layer_input, hidden_size, **cell_kwargs))
        self.cells = nn.ModuleList(cells)  # l0, l0_reverse, l1, ...
        self.state_sizes = cells[0].state_sizes
        self.recurrent_dropout, self.weight_drop = float(recurrent_dropout), float(weight_drop)
        self.zoneout, self.residual = float(zoneout), residual
        check_hidden_weights(cells[0], recurrent_dropout=recurrent_dropout, weight_drop=weight_drop)
        # torch.nn's name of each state_dict entry of the cells: cells.1.weight_ih ->
        # weight_ih_l0_reverse; the hooks below translate state dicts both ways
        self._torch_names: dict[str, str] = {}
        for index, new_cell in enumerate(cells):
            layer, direction = divmod(index, num_directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for key in new_cell.state_dict(keep_vars=True):
                self._torch_names[f"cells.{index}.{key}"] = key.replace(".", "_") + suffix
        self._tree_names = {flat: tree for tree, flat in self._torch_names.items()}
        self._register_state_dict_hook(_state_dict_in_torch_names)
        self.register_load_state_dict_pre_hook(_load_torch_names)

    def __getattr__(self, name: str) -> object:
        """``layer.weight_ih_l0`` and the other ``torch.nn`` names reach the cells' tensors."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            tree = self.__dict__.get("_tree_names", {}).get(name)
            if tree is None:
                raise
            owner, _, attr = tree.rpartition(".")
            return getattr(self.get_submodule(owner), attr)

    def __setattr__(self, name: str, value: object) -> None:
        """Assigning ``layer.weight_ih_l0`` sets the cell's tensor. A plain tensor takes the
        parameter's place, as ``torch.func.functional_call`` swaps parameters in."""
        tree = self.__dict__.get("_tree_names", {}).get(name)
        if tree is None:
            super().__setattr__(name, value)
            return
        owner_name, _, attr = tree.rpartition(".")
        owner = self.get_submodule(owner_name)
        if attr in owner._parameters and isinstance(value, Tensor):
            owner._parameters[attr] = value
        else:
            setattr(owner, attr, value)

    def reset_parameters(self) -> None:
        for cell in self.cells:
            cell.reset_parameters()

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: State | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, State]:
        name = type(self).__name__
        packed_input = isinstance(input, PackedSequence)
        if packed_input:
            if lengths is not None:
                raise ValueError(f"{name}: lengths cannot be given with a PackedSequence input")
            packed = input
            unbatched = False
        else:
            if not isinstance(input, Tensor):
                raise TypeError(
                    f"{name}: input must be a Tensor or PackedSequence, got {type(input).__name__}"
                )
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{name}: expected input of 2 (unbatched) or 3 (batched) dimensions, got "
                    f"{input.dim()}-D input of shape {tuple(input.shape)}"
                )
            unbatched = input.dim() == 2
            if unbatched and lengths is not None:
                raise ValueError(f"{name}: lengths cannot be given with unbatched (2-D) input")
            # time-major (L, N, H_in)
            if unbatched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            packed = None
            if lengths is not None:
                lengths = check_lengths(self, lengths, input.size(1), input.size(0))
                packed = pack_padded_sequence(input, lengths, enforce_sorted=False)
        data = packed.data if packed is not None else input
        if data.size(-1) != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size={self.input_size}, "
                f"got {data.size(-1)}"
            )
        dtype, precision = self._autocast(data, packed is not None)
        if dtype is None:
            check_matches_parameters(self, data, "input")
        else:
            data = data.to(dtype)

        if packed is not None:
            batch_sizes = packed.batch_sizes.tolist()
            batch_size = batch_sizes[0]
        else:
            steps, batch_size = data.shape[:2]
            batch_sizes = [batch_size] * steps
            data = data.reshape(steps * batch_size, -1)  # (L * N, H_in), the packed layout
        state = self._initial_state(hx, batch_size, data, unbatched, dtype)
        if packed is not None and packed.sorted_indices is not None:
            state = [tuple(s.index_select(0, packed.sorted_indices) for s in st) for st in state]

        with precision:
            data, finals = self._layers(data, batch_sizes, state)

        # h_n: one (D * num_layers, N, size) tensor per state tensor of the cell
        h_n = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        if packed is not None and packed.unsorted_indices is not None:
            h_n = tuple(h.index_select(1, packed.unsorted_indices) for h in h_n)
        if unbatched:
            h_n = tuple(h.squeeze(1) for h in h_n)
        h_n = h_n[0] if len(h_n) == 1 else h_n

        if packed is not None:
            output = PackedSequence(
                data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
            )
            if packed_input:
                return output, h_n
            # padded input with lengths: padded back in the caller's layout, contiguous
            padded, _ = pad_packed_sequence(output, self.batch_first, total_length=input.size(0))
            return padded, h_n
        output = data.view(input.size(0), batch_size, -1)  # (L, N, D * H_out)
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n

    def _layers(
        self, data: Tensor, batch_sizes: list[int], state: list[tuple[Tensor, ...]]
    ) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """Run every layer and direction over packed ``data``: the top layer's outputs
        ``(S, D * H_out)`` and the final state of each (layer, direction)."""
        num_directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            layer_input = data
            if layer > 0 and self.dropout > 0:
                data = F.dropout(data, self.dropout, self.training)
            outputs = []
            for direction in range(num_directions):
                index = layer * num_directions + direction
                output, final = self._run_cell(
                    self.cells[index], data, batch_sizes, state[index], reverse=direction == 1
                )
                outputs.append(output)
                finals.append(final)
            data = outputs[0] if num_directions == 1 else torch.cat(outputs, 1)
            if self.residual and layer > 0:
                data = data + layer_input
        return data, finals

    def _run_cell(
        self,
        cell: RecurrentCell,
        data: Tensor,
        batch_sizes: list[int],
        state: tuple[Tensor, ...],
        reverse: bool,
    ) -> tuple[Tensor, tuple[Tensor, ...]]:
        """:func:`run_cell` with the layer's regularisers (see the class docstring)."""
        zoneout = self.zoneout > 0
        recurrent_dropout = self.recurrent_dropout > 0 and self.training
        weight_drop = self.weight_drop > 0 and self.training
        if not (zoneout or recurrent_dropout or weight_drop):
            return run_cell(cell, data, batch_sizes, state, reverse)
        weights = {}
        if weight_drop:  # one mask per forward: the weights are dropped once, before the loop
            weights = {
                name: F.dropout(getattr(cell, name), self.weight_drop)
                for name in cell.hidden_weights
            }
        step = mask = None
        if recurrent_dropout:  # (N, H_out): one mask per sequence, reused at every step
            ones = data.new_ones(batch_sizes[0], cell.state_sizes[0])
            mask = F.dropout(ones, self.recurrent_dropout)
        if zoneout:  # a fresh mask at every step: the step loop, with the dropout mask if any
            step = functools.partial(regularised_step, cell, mask, self.zoneout, self.training)
            mask = None
        with passed_weights(cell, weights):
            return run_cell(cell, data, batch_sizes, state, reverse, step, mask)

    def _autocast(
        self, data: Tensor, packed: bool
    ) -> tuple[torch.dtype | None, AbstractContextManager]:
        """Under autocast: the dtype the layer computes in, and the context to run it in.

        ``torch.nn``'s choice: the autocast dtype (the layer's ops are autocast as usual), or
        where the cell's ``autocast_full_precision`` says so, the parameters' dtype with
        autocast turned off. Outside autocast: ``(None, nullcontext())``.
        """
        device_type = data.device.type
        if not autocast_enabled(device_type):
            return None, contextlib.nullcontext()
        full = self.cells[0].autocast_full_precision
        if device_type in full or (packed and f"{device_type}:packed" in full):
            dtype = next(self.parameters()).dtype
            return dtype, torch.autocast(device_type, enabled=False)
        return torch.get_autocast_dtype(device_type), contextlib.nullcontext()

    def _initial_state(
        self,
        hx: State | None,
        batch_size: int,
        like: Tensor,
        unbatched: bool,
        dtype: torch.dtype | None,
    ) -> list[tuple[Tensor, ...]]:
        """The initial state of every (layer, direction), each a tuple of ``(N, size)``."""
        count = self.num_layers * (2 if self.bidirectional else 1)
        if hx is None:
            zeros = tuple(like.new_zeros(count, batch_size, size) for size in self.state_sizes)
        else:
            leading = (count,) if unbatched else (count, batch_size)
            zeros = check_state(self, hx, [(*leading, size) for size in self.state_sizes], "hx")
            if dtype is None:
                for part in zeros:
                    check_matches_parameters(self, part, "hx")
            else:
                zeros = tuple(part.to(dtype) for part in zeros)
            if unbatched:
                zeros = tuple(part.unsqueeze(1) for part in zeros)
        return [tuple(part[index] for part in zeros) for index in range(count)]

    def extra_repr(self) -> str:
        cell = type(self.cells[0]).__name__
        text = f"{cell}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        for attr, default in (
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            *((option, 0.0) for option in REGULARISERS),
            ("residual", False),
        ):
            if getattr(self, attr) != default:
                text += f", {attr}={getattr(self, attr)}"
        return text


def _state_dict_in_torch_names(
    module: Recurrent, state_dict: dict, prefix: str, local_metadata: dict
) -> None:
    """State-dict post-hook: the cells' entries under ``torch.nn``'s names, in its order."""
    for tree, flat in module._torch_names.items():
        if prefix + tree in state_dict:
            state_dict[prefix + flat] = state_dict.pop(prefix + tree)


def _load_torch_names(module: Recurrent, state_dict: dict, prefix: str, *args: object) -> None:
    """Load-state-dict pre-hook: entries under ``torch.nn``'s names go to the cells."""
    for flat, tree in module._tree_names.items():
        if prefix + flat in state_dict:
            state_dict[prefix + tree] = state_dict.pop(prefix + flat)


def run_cell(
    cell: RecurrentCell,
    data: Tensor,
    batch_sizes: list[int],
    state: tuple[Tensor, ...],
    reverse: bool = False,
    step: Callable[[Tensor, State], State] | None = None,
    mask: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Run ``cell`` over a batch of sequences in the packed layout (see ``RecurrentCell.scan``).

    Args:
        data: ``(sum(batch_sizes), H_in)`` inputs in the packed layout.
        batch_sizes: the number of sequences running at each step.
        state: the initial state, a tuple of ``(N, size)`` tensors.
        reverse: run each sequence from its last valid step to its first (a forward run over
            the inputs reversed within each sequence's length).
        step: if given, loop over this ``step(projected, state)`` instead of ``cell.scan``.
        mask: if given (and no ``step``), ``cell.masked_scan`` with this recurrent-dropout
            mask ``(N, H_out)`` instead of ``cell.scan``.

    Returns:
        the outputs ``(sum(batch_sizes), H_out)`` in the same layout, and the final state.
    """
    if reverse:
        data = reverse_steps(data, batch_sizes)
    single = len(state) == 1
    projected = cell.project_input(data)
    initial = state[0] if single else state
    if step is not None:
        outputs, final = step_scan(step, projected, batch_sizes, initial)
    elif mask is not None:
        outputs, final = cell.masked_scan(projected, batch_sizes, initial, mask)
    else:
        outputs, final = cell.scan(projected, batch_sizes, initial)
    if reverse:
        outputs = reverse_steps(outputs, batch_sizes)
    return outputs, ((final,) if single else final)


def regularised_step(
    cell: RecurrentCell,
    mask: Tensor | None,
    zoneout: float,
    training: bool,
    projected: Tensor,
    state: State,
) -> State:
    """``cell.step`` with recurrent dropout (``mask``, ``(N, H_out)`` or None) on its input
    ``h`` and zoneout (probability ``zoneout``, 0 for none) on its new state."""
    previous = state if isinstance(state, tuple) else (state,)
    new = (
        cell.step(projected, state)
        if mask is None
        else masked_step(cell.step, mask, projected, state)
    )
    if not zoneout:
        return new
    new_parts = new if isinstance(new, tuple) else (new,)
    zoned = []
    for old, fresh in zip(previous, new_parts, strict=True):
        if training:  # 1 where a unit keeps its previous value
            keep = torch.bernoulli(torch.full_like(fresh, zoneout))
        else:  # the expectation
            keep = zoneout
        zoned.append(torch.lerp(fresh, old, keep))  # keep * old + (1 - keep) * fresh
    return tuple(zoned) if isinstance(new, tuple) else zoned[0]


@contextlib.contextmanager
def passed_weights(cell: RecurrentCell, weights: dict[str, Tensor]) -> Iterator[None]:
    """Run the cell with ``weights`` in place of its parameters of the same names.

    What :func:`torch.func.functional_call` does for ``forward``, here for ``scan``: the
    parameters are put back on exit, so the module tree, the state dict and ``.to()`` never
    see the tensors passed in.
    """
    saved = {name: cell._parameters[name] for name in weights}
    cell._parameters.update(weights)
    try:
        yield
    finally:
        cell._parameters.update(saved)


def check_probability(option: str, value: object) -> None:
    """Raise a ValueError naming ``option`` unless ``value`` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{option} must be a number in [0, 1), got {value!r}")


def check_hidden_weights(cell: RecurrentCell, **options: float) -> None:
    """Refuse ``weight_drop`` / ``recurrent_dropout`` on a cell without hidden-to-hidden weights
    (see ``RecurrentCell.hidden_weights``); the error names the option and the cell."""
    name = type(cell).__name__
    names = getattr(cell, "hidden_weights", ())
    for option, value in options.items():
        if not value:
            continue
        if not names:
            raise ValueError(
                f"{option}={value} is not supported by {name}: its previous state enters its step "
                "only element-wise (no hidden-to-hidden weights), so there is nothing to drop "
                "without cutting the carried state; use zoneout instead"
            )
        missing = [
            weight for weight in names if not isinstance(getattr(cell, weight, None), Tensor)
        ]
        if missing:
            raise ValueError(
                f"{option}={value} needs the hidden-to-hidden weights {name}.hidden_weights="
                f"{names}, but {name} has no parameter {missing[0]!r}; set hidden_weights to the "
                "names of the parameters that multiply the previous state"
            )


def reverse_steps(data: Tensor, batch_sizes: list[int]) -> Tensor:
    """Packed ``(S, H)`` data with every sequence reversed within its own length."""
    if batch_sizes[0] == batch_sizes[-1]:  # equal lengths: the steps in reverse order
        return torch.cat(data.split(batch_sizes)[::-1])
    return data.index_select(0, reverse_order(batch_sizes, data.device))


def reverse_order(batch_sizes: list[int], device: torch.device) -> Tensor:
    """Row permutation of packed data that reverses every sequence within its own length.

    Row ``start[t] + b`` (step ``t`` of sequence ``b``) takes row ``start[length_b - 1 - t]
    + b``. The permutation is its own inverse.
    """
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes  # first row of each step
    lengths = sequence_lengths(batch_sizes)
    step = torch.repeat_interleave(torch.arange(len(batch_sizes)), sizes)  # step of each row
    sequence = torch.arange(len(step)) - starts[step]
    return (starts[lengths[sequence] - 1 - step] + sequence).to(device)


def check_lengths(owner: nn.Module, lengths: object, batch_size: int, max_length: int) -> Tensor:
    """Check ``lengths`` against a padded batch and return them as a CPU int64 tensor."""
    name = type(owner).__name__
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"{name}: lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.dim() != 1 or lengths.numel() != batch_size:
        raise ValueError(
            f"{name}: lengths must have shape ({batch_size},), one length per sequence of the "
            f"batch, got shape {tuple(lengths.shape)}"
        )
    lengths = lengths.detach().to("cpu", torch.int64)
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1 or high > max_length:
        raise ValueError(
            f"{name}: lengths must be between 1 and the sequence length {max_length}, "
            f"got values from {low} to {high}"
        )
    return lengths


class RNN(Recurrent):
    r"""A multi-layer Elman RNN, equal to :class:`torch.nn.RNN` (and more non-linearities).

    .. math::
        h_t = \sigma(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as in
            :class:`torch.nn.RNN`.
        nonlinearity: ``'tanh'`` (default) or ``'relu'`` as in torch, or ``'sigmoid'`` or
            ``'leaky_relu'``.
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.

    Example::

        >>> rnn = RNN(10, 20, num_layers=2)
        >>> output, h_n = rnn(torch.randn(5, 3, 10))
        >>> output.shape, h_n.shape
        (torch.Size([5, 3, 20]), torch.Size([2, 3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(
            RNNCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, nonlinearity=nonlinearity, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
        )  # fmt: skip
        self.nonlinearity, self.bias = nonlinearity, bias


class LSTM(Recurrent):
    r"""A multi-layer LSTM, equal to :class:`torch.nn.LSTM` (projections included).

    See :class:`seqmodels.LSTMCell` for the equations. ``hx`` and ``h_n`` are tuples
    ``(h, c)``; ``h`` has ``proj_size`` features when ``proj_size > 0``.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size: as in :class:`torch.nn.LSTM`.
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.

    Example::

        >>> lstm = LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 40]), torch.Size([2, 3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(
            LSTMCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, proj_size=proj_size, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
        )  # fmt: skip
        self.bias, self.proj_size = bias, proj_size


class GRU(Recurrent):
    r"""A multi-layer GRU, equal to :class:`torch.nn.GRU`.

    See :class:`seqmodels.GRUCell` for the equations.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as in
            :class:`torch.nn.GRU`.
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.

    Example::

        >>> gru = GRU(10, 20, num_layers=3)
        >>> output, h_n = gru(torch.randn(5, 10))  # unbatched
        >>> output.shape, h_n.shape
        (torch.Size([5, 20]), torch.Size([3, 20]))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(
            GRUCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
        )  # fmt: skip
        self.bias = bias
