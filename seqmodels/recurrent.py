r"""The time loop: :class:`Recurrent` unrolls any cell; :class:`RNN`, :class:`LSTM`, :class:`GRU`.

A layer owns the loop over time, the stacking of layers and directions, dropout between layers,
initial states and variable lengths; a cell (see :mod:`seqmodels.cells`) does one step.

The layer owns the parameters, registered under ``torch.nn``'s names and in its order
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ...; a cell's ``ln_ih.weight`` becomes
``ln_ih_weight_l0``), so ``named_parameters()``, ``state_dict()`` and ``load_state_dict`` read
as ``torch.nn``'s, and code that replaces a parameter by that name (parametrizations,
``weight_norm``, AWD-LSTM's weight drop) changes what the forward reads. :class:`RNN`,
:class:`LSTM` and :class:`GRU` are subclasses of ``torch.nn.RNN``, ``LSTM`` and ``GRU``.

Each layer runs one of two paths (``impl``):

* ``"fused"``: torch's fused RNN kernel (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh``,
  ``torch.rnn_relu``: oneDNN on CPU, cuDNN on CUDA), the call ``torch.nn``'s layer makes, with
  the layer's own parameters. It serves the built-in layers with torch's activations and no
  per-step regulariser (see :meth:`Recurrent.explain`).
* ``"cells"``: the readable cells (``layer.cells[k]``, in the order ``l0, l0_reverse, l1, ...``),
  one ``cell.step`` per time step, reading the same parameters. Every cell runs here; it is the
  reference the fused path is tested against.

``impl="auto"`` (the default) takes the fused path where it serves and the cells elsewhere;
``impl="fused"`` raises a ``ValueError`` with the reason where it cannot serve.

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
import numbers
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
    ShapeError,
    State,
    as_parts,
    autocast_enabled,
    check_matches_parameters,
    check_state,
    from_parts,
    masked_step,
    step_scan,
)
from seqmodels.fused import sequence_lengths
from seqmodels.kernels import fused_rnn
from seqmodels.registry import register_cell

__all__ = ["Recurrent", "RNN", "LSTM", "GRU", "REGULARISERS", "IMPLS"]

#: the options of :class:`Recurrent` that regularise the recurrence (all off by default)
REGULARISERS = ("recurrent_dropout", "weight_drop", "zoneout")
#: the values of a layer's ``impl``: ``"auto"`` (the fused kernel where it serves, else the
#: cells), ``"cells"`` (always the cells), ``"fused"`` (the fused kernel, or a ValueError)
IMPLS = ("auto", "cells", "fused")


class Recurrent(nn.Module):
    r"""Unrolls any cell over time: layers, directions, dropout, lengths and packed input.

    On the cells path each step of the loop costs one call of ``cell.step``; the input
    projections of all time steps are computed before the loop in one ``cell.project_input``
    call per layer and direction. Packed input (or padded input with ``lengths``) is run the way
    ``torch.nn`` does: sequences sorted by length, the batch shrinking as sequences end, so no
    step is computed on padding and final states are taken at each sequence's last valid step.
    The built-in layers :class:`RNN`, :class:`LSTM` and :class:`GRU` also have the fused path
    (see :mod:`seqmodels.recurrent` and :meth:`explain`).

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
        impl: ``"auto"``, ``"cells"`` or ``"fused"`` (see :mod:`seqmodels.recurrent`).
        **cell_kwargs: passed to every cell (e.g. ``bias``, ``nonlinearity``, ``proj_size``,
            ``device``, ``dtype``).

    The three regularisers are off by default, and then the layer computes exactly what it
    computes without them. Dropout masks are only drawn in training; ``recurrent_dropout`` and
    ``weight_drop`` are the identity in eval mode. ``weight_drop`` keeps the fused kernel (it
    runs on the dropped weights); ``recurrent_dropout`` in training and ``zoneout`` run the
    cells.

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
        >>> layer.explain()
        'cells: LayerNormLSTMCell has no fused kernel in torch'
    """

    #: ``torch.nn.RNNBase``'s name of the fused kernel that computes this layer (see
    #: :data:`seqmodels.kernels.KERNELS`): set by RNN, LSTM and GRU, None for other cells
    mode: str | None = None

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
        impl: str = "auto",
        **cell_kwargs: object,
    ) -> None:
        super().__init__()
        check_layer_arguments(
            input_size, hidden_size, num_layers, batch_first, bidirectional, dropout
        )
        if not isinstance(cell_kwargs.get("bias", True), bool):
            bias = cell_kwargs["bias"]
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
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
        self._build_cells(
            cell,
            cell_kwargs,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
            residual=residual,
            impl=impl,
        )

    def _build_cells(
        self,
        cell: Callable[..., RecurrentCell],
        cell_kwargs: dict[str, object],
        **options: object,
    ) -> None:
        """Build one cell per (layer, direction) and give the layer their parameters.

        A parameter the layer already holds under the ``torch.nn`` name (registered by the
        ``torch.nn`` base class of RNN, LSTM and GRU) is the one the cell reads; every other
        tensor of the cell is registered on the layer under that name.
        """
        for option in REGULARISERS:
            check_probability(option, options[option])
        if options["impl"] not in IMPLS:
            raise ValueError(
                f"impl must be one of {', '.join(map(repr, IMPLS))}, got {options['impl']!r}"
            )
        self.recurrent_dropout = float(options["recurrent_dropout"])
        self.weight_drop = float(options["weight_drop"])
        self.zoneout, self.residual = float(options["zoneout"]), bool(options["residual"])
        self.impl = options["impl"]
        num_directions = 2 if self.bidirectional else 1
        cells: list[RecurrentCell] = []
        for layer in range(self.num_layers):
            for _ in range(num_directions):
                size = self.input_size if layer == 0 else num_directions * cells[0].state_sizes[0]
                cells.append(cell(size, self.hidden_size, **cell_kwargs))
        # the cells are not submodules: the layer holds their tensors (see _bind_cells)
        self.cells = cells  # l0, l0_reverse, l1, ...
        self.state_sizes = cells[0].state_sizes
        check_hidden_weights(
            cells[0], recurrent_dropout=self.recurrent_dropout, weight_drop=self.weight_drop
        )
        # (owner module in a cell, its attribute, the layer's name of it)
        self._bindings: list[tuple[nn.Module, str, str]] = []
        for index, new_cell in enumerate(cells):
            layer, direction = divmod(index, num_directions)
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            for owner_name, owner in new_cell.named_modules():
                for store in (owner._parameters, owner._buffers):
                    for attr, tensor in list(store.items()):
                        if tensor is None:
                            continue
                        name = f"{owner_name}.{attr}".lstrip(".").replace(".", "_") + suffix
                        if name not in self._parameters and name not in self._buffers:
                            if store is owner._parameters:
                                self.register_parameter(name, tensor)
                            else:
                                self.register_buffer(name, tensor)
                        self._bindings.append((owner, attr, name))
        # the layer's tensors in torch.nn's flat order (the order they are registered)
        self._flat_weights_names = [name for _, _, name in self._bindings]
        self._bind_cells()
        if self.impl == "fused":
            reason = self._cells_reason(training=True)
            if reason is not None:
                raise ValueError(f"impl='fused' cannot serve {type(self).__name__}: {reason}")

    def _bind_cells(self) -> None:
        """Point the cells at the layer's current tensors (those its named parameters hold now:
        a parametrized, replaced or converted parameter included)."""
        for owner, attr, name in self._bindings:
            tensor = getattr(self, name)
            store = owner._parameters if attr in owner._parameters else owner._buffers
            if store[attr] is not tensor:
                store[attr] = tensor

    def reset_parameters(self) -> None:
        """Each cell's own initialisation (``torch.nn``'s :math:`\\mathcal{U}(-k, k)` for the
        built-in cells), drawn in the order of the state dict."""
        self._bind_cells()
        for cell in self.cells:
            cell.reset_parameters()

    def explain(self) -> str:
        """Which path the layer takes in its current mode, and why.

        Example::

            >>> LSTM(4, 8).explain()
            'fused: torch.lstm (oneDNN on CPU, cuDNN on CUDA)'
            >>> LSTM(4, 8, recurrent_dropout=0.25).explain()
            'cells: recurrent_dropout=0.25: no fused kernel (a mask on h at every step)'
        """
        reason = self._cells_reason(self.training)
        if reason is None:
            return f"fused: torch.{self._kernel_name()} (oneDNN on CPU, cuDNN on CUDA)"
        return f"cells: {reason}"

    @property
    def fast_path(self) -> bool:
        """Whether the forward runs torch's fused kernel in the layer's current mode."""
        return self._cells_reason(self.training) is None

    def _kernel_name(self) -> str:
        return {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}[
            getattr(self, "mode", "")
        ]

    def _cells_reason(self, training: bool) -> str | None:
        """Why the cells serve a forward in this mode, or None where the fused kernel does."""
        if self.impl == "cells":
            return "impl='cells'"
        if self.mode is None:
            name = type(self.cells[0]).__name__
            layer = {RNNCell: "RNN", LSTMCell: "LSTM", GRUCell: "GRU"}.get(type(self.cells[0]))
            if layer is not None:
                return f"Recurrent({name}) runs the cells; seqmodels.{layer} runs the fused kernel"
            return f"{name} has no fused kernel in torch"
        if self.zoneout:
            return f"zoneout={self.zoneout}: no fused kernel (a fresh mask at every step)"
        if self.recurrent_dropout and training:
            return (
                f"recurrent_dropout={self.recurrent_dropout}: no fused kernel (a mask on h at "
                "every step)"
            )
        return None

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: State | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, State]:
        if lengths is not None:
            lengths = self._check_lengths(input, lengths)
        self._check_forward_args(input, hx)
        if self.runs_fused() and not (self.impl == "auto" and cells_outrun_packed(input, lengths)):
            return self._fused_forward(input, hx, lengths)
        return self._cells_forward(input, hx, lengths)

    def runs_fused(self) -> bool:
        """Whether a forward now runs the fused kernel: :attr:`fast_path`, except that under
        ``torch.compile`` ``impl="auto"`` traces the cells (inductor does not lower the fused
        kernel; ``torch.export`` and the ONNX exporter keep it, as for ``torch.nn``)."""
        if self._cells_reason(self.training) is not None:
            return False
        compiling = torch.compiler.is_compiling() and not torch.compiler.is_exporting()
        return self.impl == "fused" or not compiling

    def _check_lengths(self, input: object, lengths: object) -> Tensor:
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            raise ValueError(f"{name}: lengths cannot be given with a PackedSequence input")
        if isinstance(input, Tensor) and input.dim() == 2:
            raise ValueError(f"{name}: lengths cannot be given with unbatched (2-D) input")
        if not isinstance(input, Tensor) or input.dim() != 3:
            return lengths  # the input check names the problem
        batch_dim, time_dim = (0, 1) if self.batch_first else (1, 0)
        return check_lengths(self, lengths, input.size(batch_dim), input.size(time_dim))

    def _check_forward_args(self, input: object, hx: object) -> None:
        """The checks both paths share, with ``torch.nn``'s exception types."""
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            data = input.data
        elif isinstance(input, Tensor):
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead "
                    f"(shape {tuple(input.shape)}): (L, H_in) unbatched or (L, N, H_in) batched"
                )
            if input.size(1 if self.batch_first and input.dim() == 3 else 0) == 0:
                raise ShapeError(
                    f"{name}: Expected sequence length to be larger than 0 in RNN, got input of "
                    f"shape {tuple(input.shape)}"
                )
            data = input
        else:
            raise TypeError(
                f"{name}: input must be a Tensor or PackedSequence, got {type(input).__name__}"
            )
        if data.size(-1) != self.input_size:
            raise ShapeError(
                f"{name}: input.size(-1) must be equal to input_size. Expected "
                f"{self.input_size}, got {data.size(-1)}"
            )
        autocast = autocast_enabled(data.device.type)
        if not autocast:
            check_matches_parameters(self, data, "input")
        if hx is None:
            return
        count = self.num_layers * (2 if self.bidirectional else 1)
        if isinstance(input, PackedSequence):
            leading = (count, int(input.batch_sizes[0]))
        elif input.dim() == 2:
            leading = (count,)
        else:
            leading = (count, input.size(0 if self.batch_first else 1))
        parts = check_state(self, hx, [(*leading, size) for size in self.state_sizes], "hx")
        if not autocast:
            for part in parts:
                check_matches_parameters(self, part, "hx")

    def _fused_forward(
        self, input: Tensor | PackedSequence, hx: State | None, lengths: Tensor | None
    ) -> tuple[Tensor | PackedSequence, State]:
        """torch's fused kernel with the layer's parameters (or, with ``weight_drop`` in
        training, the dropped hidden weights)."""
        weights = self.kernel_weights()
        if lengths is None:
            return fused_rnn(self, input, hx, weights)
        packed = pack_padded_sequence(input, lengths, self.batch_first, enforce_sorted=False)
        output, h_n = fused_rnn(self, packed, hx, weights)
        total = input.size(1 if self.batch_first else 0)
        padded, _ = pad_packed_sequence(output, self.batch_first, total_length=total)
        return padded, h_n

    def kernel_weights(self) -> list[Tensor]:
        """The weights the fused kernel reads, in ``torch.nn``'s flat order: the layer's
        current tensors, and with ``weight_drop`` in training the hidden-to-hidden weights
        dropped (one DropConnect mask per call)."""
        weights = self._flat_weights
        if not (self.weight_drop and self.training):
            return weights
        hidden = set(self._hidden_weight_names())
        return [
            F.dropout(weight, self.weight_drop) if name in hidden else weight
            for name, weight in zip(self._flat_weights_names, weights, strict=True)
        ]

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The tensors of each (layer, direction), as ``torch.nn.RNNBase.all_weights``."""
        per_cell = len(self._bindings) // len(self.cells)
        names = self._flat_weights_names
        return [
            [getattr(self, name) for name in names[start : start + per_cell]]
            for start in range(0, len(names), per_cell)
        ]

    def flatten_parameters(self) -> None:
        """Put the weights in one contiguous buffer for cuDNN, as ``torch.nn``'s layers do.

        A no-op off CUDA, for cells without a fused kernel and where cuDNN cannot serve; on
        CUDA it runs ``torch.nn.RNNBase.flatten_parameters`` on this layer, so the fused kernel
        reads the weights without a copy or a warning. Called after ``.to()``/``.cuda()``.
        """
        weights = self._flat_weights
        if self.mode is None or not weights or not weights[0].is_cuda:
            return
        nn.RNNBase.flatten_parameters(self)

    def _apply(self, fn: Callable, recurse: bool = True) -> Recurrent:
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result

    def _hidden_weight_names(self) -> list[str]:
        names = set(self.cells[0].hidden_weights)
        cells = {id(cell) for cell in self.cells}
        return [
            name for owner, attr, name in self._bindings if id(owner) in cells and attr in names
        ]

    def _cells_forward(
        self, input: Tensor | PackedSequence, hx: State | None, lengths: Tensor | None
    ) -> tuple[Tensor | PackedSequence, State]:
        """The readable path: the cells' steps over the packed layout."""
        self._bind_cells()
        packed_input = isinstance(input, PackedSequence)
        unbatched = not packed_input and input.dim() == 2
        if packed_input:
            packed = input
        else:
            # time-major (L, N, H_in)
            if unbatched:
                input = input.unsqueeze(1)
            elif self.batch_first:
                input = input.transpose(0, 1)
            packed = None
            if lengths is not None:
                packed = pack_padded_sequence(input, lengths, enforce_sorted=False)
        data = packed.data if packed is not None else input
        dtype, precision = self._autocast(data, packed is not None)
        if dtype is not None:
            data = data.to(dtype)

        if packed is not None:
            batch_sizes = packed.batch_sizes.tolist()
            batch_size = batch_sizes[0]
        else:
            steps, batch_size = data.shape[:2]
            batch_sizes = [batch_size] * steps
            data = data.reshape(steps * batch_size, data.size(-1))  # (L * N, H_in), packed layout
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
        output = data.view(input.size(0), batch_size, data.size(-1))  # (L, N, D * H_out)
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
        else:  # checked by _check_forward_args
            zeros = hx if isinstance(hx, (tuple, list)) else (hx,)
            if dtype is not None:
                zeros = tuple(part.to(dtype) for part in zeros)
            if unbatched:
                zeros = tuple(part.unsqueeze(1) for part in zeros)
        return [tuple(part[index] for part in zeros) for index in range(count)]

    def extra_repr(self) -> str:
        """``torch.nn``'s repr of the layer (the cell's name first for :class:`Recurrent`),
        then the options ``torch.nn`` lacks where they are not their defaults."""
        text = f"{self.input_size}, {self.hidden_size}"
        if self.mode is None:
            text = f"{type(self.cells[0]).__name__}, {text}"
        options = (
            ("proj_size", 0),
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
            *((option, 0.0) for option in REGULARISERS),
            ("residual", False),
            ("impl", "auto"),
        )
        for attr, default in options:
            if getattr(self, attr, default) != default:
                text += f", {attr}={getattr(self, attr)!r}"
        return text


def cells_outrun_packed(input: Tensor | PackedSequence, lengths: Tensor | None) -> bool:
    """Whether the cells beat torch's fused kernel on this call: sequences of different lengths
    (``lengths`` or a ``PackedSequence``) on the CPU with gradients. There torch's packed kernel
    runs forward and backward at about 1.6 times the step loop's time (``scripts/benchmark.py
    --parts lengths``); cuDNN's packed kernel has no such cost."""
    data = input.data if isinstance(input, PackedSequence) else input
    if data.device.type != "cpu" or not torch.is_grad_enabled():
        return False
    if isinstance(input, PackedSequence):
        varying = int(input.batch_sizes[0]) != int(input.batch_sizes[-1])
    else:
        varying = lengths is not None and int(lengths.min()) != int(lengths.max())
    return varying


def run_cell(
    cell: RecurrentCell,
    data: Tensor,
    batch_sizes: list[int],
    state: tuple[Tensor, ...],
    reverse: bool = False,
    step: Callable[[Tensor, tuple[Tensor, ...]], tuple[Tensor, ...]] | None = None,
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
    projected = cell.project_input(data)
    if step is not None:
        outputs, final = step_scan(step, projected, batch_sizes, state)
    else:  # the cell's own scan (which a cell may override) takes and gives its state form
        initial = from_parts(state)
        if mask is not None:
            outputs, final = cell.masked_scan(projected, batch_sizes, initial, mask)
        else:
            outputs, final = cell.scan(projected, batch_sizes, initial)
        final = as_parts(final)
    if reverse:
        outputs = reverse_steps(outputs, batch_sizes)
    return outputs, final


def regularised_step(
    cell: RecurrentCell,
    mask: Tensor | None,
    zoneout: float,
    training: bool,
    projected: Tensor,
    parts: tuple[Tensor, ...],
) -> tuple[Tensor, ...]:
    """``cell.step_parts`` with recurrent dropout (``mask``, ``(N, H_out)`` or None) on its
    input ``h`` and zoneout (probability ``zoneout``, 0 for none) on its new state."""
    if mask is None:
        new = cell.step_parts(projected, parts)
    else:
        new = masked_step(cell.step_parts, mask, projected, parts)
    if not zoneout:
        return new
    zoned = []
    for old, fresh in zip(parts, new, strict=True):
        if training:  # 1 where a unit keeps its previous value
            keep = torch.bernoulli(torch.full_like(fresh, zoneout))
        else:  # the expectation
            keep = zoneout
        zoned.append(torch.lerp(fresh, old, keep))  # keep * old + (1 - keep) * fresh
    return tuple(zoned)


@contextlib.contextmanager
def passed_weights(module: nn.Module, weights: dict[str, Tensor]) -> Iterator[None]:
    """Run ``module`` with ``weights`` in place of its parameters of the same names.

    What :func:`torch.func.functional_call` does for ``forward``, here for any method: the
    parameters are put back on exit, so the module tree, the state dict and ``.to()`` never
    see the tensors passed in.
    """
    saved = {name: module._parameters[name] for name in weights}
    module._parameters.update(weights)
    try:
        yield
    finally:
        module._parameters.update(saved)


def check_probability(option: str, value: object) -> None:
    """Raise a ValueError naming ``option`` unless ``value`` is a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{option} must be a number in [0, 1), got {value!r}")


def check_layer_arguments(
    input_size: object,
    hidden_size: object,
    num_layers: object,
    batch_first: object,
    bidirectional: object,
    dropout: object,
) -> None:
    """The argument checks of ``torch.nn.RNNBase``, with its exception types: a TypeError for
    a value of the wrong type (``batch_first="False"`` is not taken as true), a ValueError for
    a size below one or a dropout outside [0, 1]."""
    for option, value in (("batch_first", batch_first), ("bidirectional", bidirectional)):
        if not isinstance(value, bool):
            raise TypeError(f"{option} should be of type bool, got: {type(value).__name__}")
    for option, value in (
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
    ):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{option} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{option} must be greater than zero, got {value}")
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, numbers.Number)
        or not 0 <= dropout <= 1
    ):
        raise ValueError(
            "dropout should be a number in range [0, 1] representing the probability of an "
            f"element being zeroed, got {dropout!r}"
        )


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

    With ``tanh`` or ``relu`` it runs torch's fused kernel (see :meth:`~Recurrent.explain`);
    ``flatten_parameters()`` and ``all_weights`` are ``torch.nn``'s.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as in
            :class:`torch.nn.RNN`.
        nonlinearity: ``'tanh'`` (default) or ``'relu'`` as in torch, or ``'sigmoid'`` or
            ``'leaky_relu'`` (these run the cells).
        proj_size: only 0, as in :class:`torch.nn.RNN` (projections are the LSTM's).
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.
        impl: ``"auto"``, ``"cells"`` or ``"fused"`` (see :mod:`seqmodels.recurrent`).

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
        proj_size: int = 0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        impl: str = "auto",
    ) -> None:
        check_no_projection(proj_size, "RNN")
        # read while the cells are built (impl="fused" checks that the kernel can serve)
        self.mode = "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH"
        self.nonlinearity = nonlinearity
        super().__init__(
            RNNCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, nonlinearity=nonlinearity, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
            impl=impl,
        )  # fmt: skip
        self.bias, self.proj_size = bias, 0
        self.flatten_parameters()  # built on CUDA: cuDNN's flat buffer from the start

    def _cells_reason(self, training: bool) -> str | None:
        if self.impl != "cells" and self.nonlinearity not in ("tanh", "relu"):
            return f"nonlinearity={self.nonlinearity!r}: torch's kernels have tanh and relu"
        return super()._cells_reason(training)


class LSTM(Recurrent):
    r"""A multi-layer LSTM, equal to :class:`torch.nn.LSTM` (projections included).

    See :class:`seqmodels.LSTMCell` for the equations. ``hx`` and ``h_n`` are tuples
    ``(h, c)``; ``h`` has ``proj_size`` features when ``proj_size > 0``. Runs torch's fused
    kernel where it serves (see :meth:`~Recurrent.explain`); ``flatten_parameters()`` and
    ``all_weights`` are ``torch.nn``'s.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            proj_size: as in :class:`torch.nn.LSTM`.
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.
        impl: ``"auto"``, ``"cells"`` or ``"fused"`` (see :mod:`seqmodels.recurrent`).

    Example::

        >>> lstm = LSTM(10, 20, batch_first=True, bidirectional=True)
        >>> output, (h_n, c_n) = lstm(torch.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        (torch.Size([3, 5, 40]), torch.Size([2, 3, 20]))
    """

    mode = "LSTM"

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
        impl: str = "auto",
    ) -> None:
        super().__init__(
            LSTMCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, proj_size=proj_size, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
            impl=impl,
        )  # fmt: skip
        self.bias, self.proj_size = bias, proj_size
        self.flatten_parameters()  # built on CUDA: cuDNN's flat buffer from the start


class GRU(Recurrent):
    r"""A multi-layer GRU, equal to :class:`torch.nn.GRU`.

    See :class:`seqmodels.GRUCell` for the equations. Runs torch's fused kernel where it
    serves (see :meth:`~Recurrent.explain`); ``flatten_parameters()`` and ``all_weights`` are
    ``torch.nn``'s.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as in
            :class:`torch.nn.GRU`.
        proj_size: only 0, as in :class:`torch.nn.GRU` (projections are the LSTM's).
        recurrent_dropout, weight_drop, zoneout: regularisers torch.nn lacks (keyword only,
            off by default), see :class:`Recurrent`.
        impl: ``"auto"``, ``"cells"`` or ``"fused"`` (see :mod:`seqmodels.recurrent`).

    Example::

        >>> gru = GRU(10, 20, num_layers=3)
        >>> output, h_n = gru(torch.randn(5, 10))  # unbatched
        >>> output.shape, h_n.shape
        (torch.Size([5, 20]), torch.Size([3, 20]))
    """

    mode = "GRU"

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
        proj_size: int = 0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
        impl: str = "auto",
    ) -> None:
        check_no_projection(proj_size, "GRU")
        super().__init__(
            GRUCell, input_size, hidden_size, num_layers, batch_first, dropout, bidirectional,
            bias=bias, device=device, dtype=dtype,
            recurrent_dropout=recurrent_dropout, weight_drop=weight_drop, zoneout=zoneout,
            impl=impl,
        )  # fmt: skip
        self.bias, self.proj_size = bias, 0
        self.flatten_parameters()  # built on CUDA: cuDNN's flat buffer from the start


# the built-in cells, registered with their torch.nn-compatible layers
register_cell("rnn", layer=RNN, torch_layer=nn.RNN, arguments={"nonlinearity": "tanh"})(RNNCell)
register_cell("rnn_relu", layer=RNN, torch_layer=nn.RNN, arguments={"nonlinearity": "relu"})(
    RNNCell
)
register_cell("lstm", layer=LSTM, torch_layer=nn.LSTM)(LSTMCell)
register_cell("gru", layer=GRU, torch_layer=nn.GRU)(GRUCell)


def check_no_projection(proj_size: object, layer: str) -> None:
    """``torch.nn``'s ValueError for ``proj_size`` given to an RNN or a GRU."""
    if proj_size != 0:
        raise ValueError(
            f"proj_size argument is only supported for LSTM, not RNN or GRU (got "
            f"proj_size={proj_size!r} for {layer})"
        )
