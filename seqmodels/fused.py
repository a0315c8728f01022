r"""RNN, LSTM and GRU recurrences over whole batches, back-propagated through time by hand.

Autograd through :meth:`seqmodels.LSTMCell.step` (or ``GRUCell.step``) computes the gradient of
``weight_hh`` as one small matmul per time step. :class:`LSTMScan`, :class:`GRUScan` and
:class:`RNNScan` compute the same values with one matmul per step in each direction of the pass,
and the weight gradient as a single matmul over all steps:

.. math::
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1}
        = \Delta^\top H_{\mathrm{prev}}

where :math:`\delta_t` is the gradient of the recurrent pre-activations at step :math:`t`, and
:math:`\Delta`, :math:`H_{\mathrm{prev}}` stack them (and the previous hidden states) over all
steps and sequences. Both work in the packed layout of :meth:`seqmodels.RecurrentCell.scan`
(``batch_sizes[t]`` rows per step, sequences sorted by decreasing length).

The scans are the fast path of the built-in cells, never the only path. :func:`can_fuse` says
when they may serve a call; otherwise the cells step through their readable ``step``, which every
PyTorch transform understands. When the gradient itself is differentiated (``create_graph=True``:
gradient penalties, Hessian-vector products, MAML) the backward pass runs autograd through the
cell's step instead of the hand-written formulas, so higher derivatives are exact. Without
gradients (``torch.no_grad``, ``inference_mode``, evaluation) the forward loops keep nothing for
backward. The tests check all of it against ``torch.nn`` and with ``gradcheck``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = [
    "can_fuse",
    "lstm_scan",
    "gru_scan",
    "rnn_scan",
    "linear_scan",
    "linear_recurrence",
    "padded",
    "packed_rows",
    "final_rows",
    "ACTIVATIONS",
]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "leaky_relu": nn.functional.leaky_relu,
}

# derivative of each activation, from its output
_SLOPES: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": lambda h: 1 - h * h,
    "relu": lambda h: (h > 0).to(h.dtype),
    "sigmoid": lambda h: h * (1 - h),
    "leaky_relu": lambda h: torch.where(h > 0, 1.0, 0.01).to(h.dtype),
}


def can_fuse(*tensors: Tensor | None) -> bool:
    """Whether the hand-written scans may serve a call on these tensors.

    They are eager-mode ``autograd.Function``\\ s over plain tensors. Tracing (``torch.jit.trace``),
    compiling and exporting (``torch.compile``, ``torch.export``, the ONNX exporter),
    ``torch.func`` transforms (``vmap``, ``grad``, ``jacrev``), forward-mode AD and tensor
    subclasses get the cell's step loop instead.
    """
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or _is_exporting():
        return False
    if torch._C._functorch.peek_interpreter_stack() is not None:
        return False
    if forward_ad._current_level >= 0:
        return False
    return all(t is None or type(t) in (Tensor, nn.Parameter) for t in tensors)


def _is_exporting() -> bool:
    """``torch.compiler.is_exporting()`` (torch >= 2.6; before, export runs on fake tensors,
    which :func:`can_fuse` turns away by their type)."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return is_exporting is not None and is_exporting()


def _needs_grad(*tensors: Tensor | None) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def lstm_scan(
    projected: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    batch_sizes: list[int],
    step: Callable[..., tuple[Tensor, Tensor]],
    mask: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The LSTM over all steps: the outputs ``(S, H)`` in the packed layout, and each
    sequence's final cell state ``(N, H)``.

    ``projected`` is ``(S, 4H)`` with both biases (:meth:`seqmodels.LSTMCell.project_input`);
    ``step(x, (h, c), weight_hh)`` is the cell's reference step (for higher derivatives; with a
    ``mask``, the masked one). ``mask`` ``(N, H)``, recurrent dropout: the previous output
    multiplies the recurrent weights as :math:`(h_{t-1} \\odot m) W_{hh}^T`, one mask row per
    sequence at every step. Without gradients (and mask) the scan computes in ``projected``'s
    memory.
    """
    if mask is not None or _needs_grad(projected, h0, c0, weight_hh):
        outputs, cells = LSTMScan.apply(projected, h0, c0, weight_hh, batch_sizes, step, mask)
        return outputs, final_rows(cells, batch_sizes)
    return _lstm_inference(projected, h0, c0, weight_hh, batch_sizes)


def gru_scan(
    projected: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    batch_sizes: list[int],
    step: Callable[..., Tensor],
    mask: Tensor | None = None,
    layer_norm: tuple[Tensor, Tensor, float] | None = None,
) -> Tensor:
    """The GRU over all steps: the outputs ``(S, H)`` in the packed layout.

    ``projected`` is ``(S, 3H)`` with ``bias_ih`` (:meth:`seqmodels.GRUCell.project_input`);
    ``step(x, h, weight_hh, bias_hh, norm_weight, norm_bias)`` is the cell's reference step
    (with a ``mask``, the masked one). ``mask`` ``(N, H)``, recurrent dropout: each step reads
    :math:`h_{t-1} \\odot m` wherever it reads the previous state, one mask row per sequence.
    ``layer_norm = (weight, bias, eps)``: the hidden contribution :math:`W_{hh} h` is
    layer-normalised with them (:class:`seqmodels.LayerNormGRUCell`; ``bias_hh`` is None then).
    """
    norm_weight, norm_bias, eps = (None, None, 0.0) if layer_norm is None else layer_norm
    tensors = (projected, h0, weight_hh, bias_hh, norm_weight, norm_bias)
    if _needs_grad(*tensors):
        return GRUScan.apply(*tensors, eps, batch_sizes, step, mask)
    return _gru_forward(*tensors, eps, batch_sizes, False, mask)[0]


def rnn_scan(
    projected: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    nonlinearity: str,
    batch_sizes: list[int],
    step: Callable[..., Tensor],
    mask: Tensor | None = None,
) -> Tensor:
    """The Elman RNN over all steps: the outputs ``(S, H)`` in the packed layout.

    ``projected`` is ``(S, H)`` with both biases (:meth:`seqmodels.RNNCell.project_input`);
    ``step(x, h, weight_hh)`` is the cell's reference step (with a ``mask``, the masked one).
    ``mask`` ``(N, H)``: recurrent dropout, as in :func:`gru_scan`.
    """
    if _needs_grad(projected, h0, weight_hh):
        return RNNScan.apply(projected, h0, weight_hh, nonlinearity, batch_sizes, step, mask)
    return _rnn_forward(projected, h0, weight_hh, nonlinearity, batch_sizes, mask)


def _lstm_forward(
    projected: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_hh: Tensor,
    batch_sizes: list,
    mask: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(outputs, cells, gates, tanh_cells)`` of every step: what backward needs. ``mask``:
    see :func:`lstm_scan`."""
    hidden, batch = c0.size(1), h0.size(0)
    weight_t = weight_hh.t().contiguous()  # (H, 4H): a contiguous copy multiplies faster
    outputs = projected.new_empty(projected.size(0), h0.size(1))
    cells = projected.new_empty(projected.size(0), hidden)
    gates, tanh_cells = torch.empty_like(projected), torch.empty_like(cells)  # i, f, g, o
    buffer = projected.new_empty(batch, 4 * hidden)  # one step's pre-activations
    pre = _rows(batch_sizes, buffer, buffer[:, 2 * hidden : 3 * hidden])
    steps = _steps(batch_sizes, projected, cells, outputs, *gates.unsafe_chunk(4, 1), tanh_cells)
    h, c = h0, c0
    for (p, p_g), (x, c_out, h_out, i, f, g, o, tanh_c), a in zip(
        pre, steps, gates.split(batch_sizes), strict=True
    ):
        n = x.size(0)  # sequences that ended drop out (packed input)
        torch.addmm(x, h[:n] if mask is None else h[:n] * mask[:n], weight_t, out=p)
        torch.sigmoid(p, out=a)
        torch.tanh(p_g, out=g)
        c = torch.mul(f, c[:n], out=c_out).addcmul_(i, g)
        h = torch.mul(o, torch.tanh(c, out=tanh_c), out=h_out)
    return outputs, cells, gates, tanh_cells


def _lstm_inference(
    projected: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor, batch_sizes: list
) -> tuple[Tensor, Tensor]:
    """``(outputs, c_n)`` keeping nothing for backward: the pre-activations are computed in
    ``projected``'s memory, one step's activations in reused buffers, and the cell state in
    place in ``c_n`` (rows of sequences that ended keep their final state)."""
    hidden, batch = c0.size(1), h0.size(0)
    weight_t = weight_hh.t().contiguous()  # (H, 4H): a contiguous copy multiplies faster
    outputs = projected.new_empty(projected.size(0), h0.size(1))
    gates = projected.new_empty(batch, 4 * hidden)  # one step's activated i, f, g, o
    c_n, tanh_c = c0.clone(), torch.empty_like(c0)
    rows = _rows(batch_sizes, gates, *gates.unsafe_chunk(4, 1), c_n, tanh_c)
    steps = _steps(batch_sizes, projected, projected[:, 2 * hidden : 3 * hidden], outputs)
    h = h0
    for (x, x_g, h_out), (a, i, f, g, o, c, tanh_c) in zip(steps, rows, strict=True):
        x.addmm_(h[: x.size(0)], weight_t)  # sequences that ended drop out (packed input)
        torch.sigmoid(x, out=a)
        torch.tanh(x_g, out=g)
        c.mul_(f).addcmul_(i, g)
        h = torch.mul(o, torch.tanh(c, out=tanh_c), out=h_out)
    return outputs, c_n


def _gru_forward(
    projected: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    norm_weight: Tensor | None,
    norm_bias: Tensor | None,
    eps: float,
    batch_sizes: list,
    save: bool,
    mask: Tensor | None,
) -> tuple[Tensor, ...]:
    """``(outputs[, gates, new, recurrent_n, unnormed, mean, rstd])``; ``save`` keeps what
    backward needs (the last three, with a layer norm: :math:`W_{hh} h` and its row statistics;
    else None); ``mask``, the layer norm: see :func:`gru_scan`."""
    hidden, batch, rows = h0.size(1), h0.size(0), projected.size(0)
    weight_t = weight_hh.t()
    outputs = projected.new_empty(rows, hidden)
    if save:  # r, z; n; W_hn h + b_hn (normalised) of every step
        gates = projected.new_empty(rows, 2 * hidden)
        new, recurrent_n = torch.empty_like(outputs), torch.empty_like(outputs)
    else:  # one step's, reused
        gates = projected.new_empty(batch, 2 * hidden)
        new, recurrent_n = h0.new_empty(batch, hidden), h0.new_empty(batch, hidden)
    scratch = (_steps if save else _rows)(batch_sizes, gates, new, recurrent_n)
    normed = save and norm_weight is not None
    unnormed = projected.new_empty(rows, 3 * hidden) if normed else None
    unnormed_steps = unnormed.split(batch_sizes) if normed else [None] * len(batch_sizes)
    statistics: list[tuple[Tensor, Tensor]] = []  # each step's layer-norm mean and 1 / std
    h = h0
    for (x, h_out), (r_z_out, n_out, recurrent_n_out), unnormed_out in zip(
        _steps(batch_sizes, projected, outputs), scratch, unnormed_steps, strict=True
    ):
        h = h[: x.size(0)] if mask is None else h[: x.size(0)] * mask[: x.size(0)]
        if bias_hh is None:
            recurrent = torch.mm(h, weight_t, out=unnormed_out)  # (N_t, 3H)
        else:
            recurrent = torch.addmm(bias_hh, h, weight_t, out=unnormed_out)
        if norm_weight is not None:
            recurrent, mean, rstd = torch.native_layer_norm(
                recurrent, (3 * hidden,), norm_weight, norm_bias, eps
            )
            if normed:
                statistics.append((mean, rstd))
        r_z = torch.sigmoid(x[:, : 2 * hidden] + recurrent[:, : 2 * hidden], out=r_z_out)
        r, z = r_z.unsafe_chunk(2, 1)
        recurrent_n_out.copy_(recurrent[:, 2 * hidden :])
        n = torch.tanh(torch.addcmul(x[:, 2 * hidden :], r, recurrent_n_out), out=n_out)
        h = torch.addcmul(n, z, h - n, out=h_out)  # (1 - z) n + z h
    if not save:
        return (outputs,)
    mean, rstd = (
        (torch.cat(parts) for parts in zip(*statistics, strict=True)) if normed else (None, None)
    )
    return outputs, gates, new, recurrent_n, unnormed, mean, rstd


def _rnn_forward(
    projected: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    nonlinearity: str,
    batch_sizes: list,
    mask: Tensor | None,
) -> Tensor:
    weight_t, activation = weight_hh.t(), ACTIVATIONS[nonlinearity]
    outputs = torch.empty_like(projected)
    h = h0
    for x, h_out in _steps(batch_sizes, projected, outputs):
        n = x.size(0)  # sequences that ended drop out (packed input)
        h = activation(torch.addmm(x, h[:n] if mask is None else h[:n] * mask[:n], weight_t))
        h_out.copy_(h)
    return outputs


class LSTMScan(torch.autograd.Function):
    r"""``(projected, h_0, c_0, weight_hh, batch_sizes, step) -> (outputs, cells)``.

    See :func:`lstm_scan`. The backward pass writes the gradients of the gates'
    pre-activations at step :math:`t` as

    .. math::
        \delta_{i,f,g} = \bar{c}_t \odot (a_i, a_f, a_g), \quad \delta_o = \bar{h}_t \odot a_o,
        \quad (a_i, a_f, a_g, a_o) = (g\,\sigma'_i,\ c_{t-1}\,\sigma'_f,\ i \tanh'_g,\
        \tanh(c_t)\,\sigma'_o)

    where :math:`\bar{h}_t, \bar{c}_t` are the gradients reaching the step's states. The
    coefficients :math:`a` are computed for all steps at once, so a step costs one matmul and
    four element-wise kernels.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, weight_hh, batch_sizes, step, mask):  # noqa: ANN001, ANN205
        outputs, cells, gates, tanh_cells = _lstm_forward(
            projected, h0, c0, weight_hh, batch_sizes, mask
        )
        ctx.batch_sizes, ctx.step = batch_sizes, step
        saved = (projected, h0, c0, weight_hh, mask, outputs, cells, gates, tanh_cells)
        ctx.save_for_backward(*saved)
        return outputs, cells

    @staticmethod
    def backward(ctx, grad_outputs, grad_cells):  # noqa: ANN001, ANN205
        projected, h0, c0, weight_hh, mask, outputs, cells, gates, tanh_cells = ctx.saved_tensors
        batch_sizes = ctx.batch_sizes
        if torch.is_grad_enabled():  # create_graph=True
            grads = _autograd_backward(
                ctx.step, batch_sizes, projected, (h0, c0), (weight_hh,), (grad_outputs, grad_cells)
            )
            return (*grads, None, None, None)
        hidden = cells.size(1)
        # in place where possible: at large batches, each (S, 4H) temporary costs more in memory
        # traffic and fresh pages than the arithmetic
        one = gates.new_ones(())
        i, f, g, o = gates.unsafe_chunk(4, 1)
        coefficients = torch.addcmul(gates, gates, gates, value=-1)  # σ' = s - s² (g: replaced)
        a_i, a_f, a_g, a_o = coefficients.unsafe_chunk(4, 1)
        a_i.mul_(g)
        a_f.mul_(_previous(c0, cells, batch_sizes))  # times c_{t-1}
        torch.addcmul(one, g, g, value=-1, out=a_g).mul_(i)
        a_o.mul_(tanh_cells)
        slope_c = torch.addcmul(one, tanh_cells, tanh_cells, value=-1).mul_(o)  # ∂h_t/∂c_t
        grad_gates = torch.empty_like(gates)  # δ of every step
        ifg = slice(0, 3 * hidden)  # the gates whose δ is c̄ times a coefficient, as (S, 3, H)
        steps = _steps(
            batch_sizes,
            grad_outputs,
            grad_cells,
            slope_c,
            f,
            coefficients[:, ifg].unflatten(1, (3, hidden)),
            a_o,
            grad_gates,
            grad_gates[:, ifg].unflatten(1, (3, hidden)),
            grad_gates[:, 3 * hidden :],
        )
        delta = grad_c = f_next = None  # step t + 1's δ, c̄ and f (first rows continue step t)
        for grad_out, grad_cell, slope, f_t, a_ifg, a_o_t, d, d_ifg, d_o in reversed(steps):
            if mask is None:
                grad_h = _add_carried(grad_out, delta, weight_hh, torch.addmm)  # h̄_t
            else:  # the term carried back is δ_{t+1} W_hh ⊙ m
                carried = None if delta is None else (delta @ weight_hh).mul_(mask[: delta.size(0)])
                grad_h = _add_carried(grad_out, carried, one, torch.addcmul)
            grad_c = _add_carried(grad_cell, grad_c, f_next, torch.addcmul)
            grad_c = torch.addcmul(grad_c, grad_h, slope)  # c̄_t
            torch.mul(grad_c.unsqueeze(1), a_ifg, out=d_ifg)
            torch.mul(grad_h, a_o_t, out=d_o)
            delta, f_next = d, f_t
        grad_h0 = delta @ weight_hh
        grad_c0 = grad_c * f_next
        previous = _previous(h0, outputs, batch_sizes)  # (S, H): h_{t-1} of every row
        if mask is not None:
            grad_h0.mul_(mask)
            previous.mul_(_packed_mask(mask, batch_sizes))  # what each step read
        grad_weight = grad_gates.t() @ previous  # (4H, H)
        return grad_gates, grad_h0, grad_c0, grad_weight, None, None, None


class GRUScan(torch.autograd.Function):
    """``(projected, h_0, weight_hh, bias_hh, norm_weight, norm_bias, eps, batch_sizes, step,
    mask) -> outputs``; see :func:`gru_scan`. ``bias_hh`` and the layer norm's
    ``norm_weight`` / ``norm_bias`` may be None."""

    @staticmethod
    def forward(  # noqa: ANN001, ANN205
        ctx, projected, h0, weight_hh, bias_hh, norm_weight, norm_bias, eps, batch_sizes, step, mask
    ):
        outputs, *saved = _gru_forward(
            projected, h0, weight_hh, bias_hh, norm_weight, norm_bias, eps, batch_sizes, True, mask
        )
        ctx.batch_sizes, ctx.step = batch_sizes, step
        weights = (weight_hh, bias_hh, norm_weight, norm_bias)
        ctx.save_for_backward(projected, h0, *weights, mask, outputs, *saved)
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        projected, h0, weight_hh, bias_hh, norm_weight, norm_bias, mask, outputs, *saved = (
            ctx.saved_tensors
        )
        gates, new, recurrent_n, unnormed, mean, rstd = saved
        batch_sizes, hidden = ctx.batch_sizes, h0.size(1)
        weights = (weight_hh, bias_hh, norm_weight, norm_bias)
        if torch.is_grad_enabled():  # create_graph=True
            grads = _autograd_backward(
                ctx.step, batch_sizes, projected, (h0,), weights, (grad_outputs,)
            )
            return (*grads, None, None, None, None)
        previous = _previous(h0, outputs, batch_sizes)  # (S, H): h_{t-1} of every row
        if mask is not None:
            previous.mul_(_packed_mask(mask, batch_sizes))  # what each step read
        one = gates.new_ones(())
        r, z = gates.unsafe_chunk(2, 1)
        sigmoid_slope = gates * (1 - gates)
        # for all steps at once: ∂h'/∂ of the n and z pre-activations, ∂(n's)/∂(r's)
        a_n = (1 - z) * (1 - new * new)
        a_z = (previous - new) * sigmoid_slope[:, hidden:]
        a_r = recurrent_n * sigmoid_slope[:, :hidden]
        grad_projected = gates.new_empty(gates.size(0), 3 * hidden)
        grad_recurrent = torch.empty_like(grad_projected)  # w.r.t. the (normalised) W_hh h + b_hh
        # w.r.t. W_hh h + b_hh before the layer norm (without one: the same tensor)
        grad_unnormed = grad_recurrent if unnormed is None else torch.empty_like(grad_recurrent)
        norm_steps = _steps(batch_sizes, unnormed, mean, rstd) if unnormed is not None else None
        d_n = grad_projected[:, 2 * hidden :]
        steps = _steps(
            batch_sizes, grad_outputs, z, r, a_n, a_z, a_r, grad_recurrent, grad_unnormed, d_n
        )
        grad_h = carried = z_next = None  # step t + 1's h̄, δ of W_hh h + b_hh and z
        for t in reversed(range(len(steps))):
            grad_out, z_t, r_t, a_n_t, a_z_t, a_r_t, d_recurrent, d_unnormed, d_n = steps[t]
            if mask is None:
                grad_h = _add_carried(grad_out, grad_h, z_next, torch.addcmul)
                grad_h = _add_carried(grad_h, carried, weight_hh, torch.addmm)  # h̄_t
            elif grad_h is None:
                grad_h = grad_out
            else:  # step t + 1 read h_t ⊙ m: both terms carried back times m
                read = torch.addmm(grad_h * z_next, carried, weight_hh)
                grad_h = _add_carried(grad_out, read.mul_(mask[: read.size(0)]), one, torch.addcmul)
            d_r, d_z, d_recurrent_n = d_recurrent.unsafe_chunk(3, 1)
            torch.mul(grad_h, a_n_t, out=d_n)
            torch.mul(grad_h, a_z_t, out=d_z)
            torch.mul(d_n, a_r_t, out=d_r)
            torch.mul(d_n, r_t, out=d_recurrent_n)
            if norm_steps is not None:  # back through the layer norm, the step's rows
                unnormed_t, mean_t, rstd_t = norm_steps[t]
                d_unnormed.copy_(
                    torch.ops.aten.native_layer_norm_backward(
                        d_recurrent,
                        unnormed_t,
                        (3 * hidden,),
                        mean_t,
                        rstd_t,
                        norm_weight,
                        None,
                        (True, False, False),
                    )[0]
                )
            carried, z_next = d_unnormed, z_t
        grad_h = torch.addmm(grad_h * z_next, carried, weight_hh)  # h̄_0
        if mask is not None:
            grad_h.mul_(mask)
        grad_projected[:, : 2 * hidden] = grad_recurrent[:, : 2 * hidden]
        grad_weight = grad_unnormed.t() @ previous  # (3H, H)
        grad_bias = grad_unnormed.sum(0) if bias_hh is not None else None
        grad_norm_weight = grad_norm_bias = None
        if unnormed is not None:  # all rows at once
            _, grad_norm_weight, grad_norm_bias = torch.ops.aten.native_layer_norm_backward(
                grad_recurrent,
                unnormed,
                (3 * hidden,),
                mean,
                rstd,
                norm_weight,
                norm_bias,
                (False, True, True),
            )
        grads = (grad_projected, grad_h, grad_weight, grad_bias, grad_norm_weight, grad_norm_bias)
        return (*grads, None, None, None, None)


class RNNScan(torch.autograd.Function):
    """``(projected, h_0, weight_hh, nonlinearity, batch_sizes, step) -> outputs``; see
    :func:`rnn_scan`."""

    @staticmethod
    def forward(ctx, projected, h0, weight_hh, nonlinearity, batch_sizes, step, mask):  # noqa: ANN001, ANN205
        outputs = _rnn_forward(projected, h0, weight_hh, nonlinearity, batch_sizes, mask)
        ctx.batch_sizes, ctx.nonlinearity, ctx.step = batch_sizes, nonlinearity, step
        ctx.save_for_backward(projected, h0, weight_hh, mask, outputs)
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        projected, h0, weight_hh, mask, outputs = ctx.saved_tensors
        batch_sizes = ctx.batch_sizes
        if torch.is_grad_enabled():  # create_graph=True
            grads = _autograd_backward(
                ctx.step, batch_sizes, projected, (h0,), (weight_hh,), (grad_outputs,)
            )
            return (*grads, None, None, None, None)
        slope = _SLOPES[ctx.nonlinearity](outputs)  # for all steps at once
        grad_pre = torch.empty_like(outputs)
        steps = _steps(batch_sizes, grad_outputs, slope, grad_pre)
        delta, one = None, outputs.new_ones(())  # step t + 1's δ
        for grad_out, slope_t, d in reversed(steps):
            if mask is None:
                grad_h = _add_carried(grad_out, delta, weight_hh, torch.addmm)  # h̄_t
            else:  # step t + 1 read h_t ⊙ m
                read = None if delta is None else (delta @ weight_hh).mul_(mask[: delta.size(0)])
                grad_h = _add_carried(grad_out, read, one, torch.addcmul)
            delta = torch.mul(grad_h, slope_t, out=d)
        grad_h0 = delta @ weight_hh
        previous = _previous(h0, outputs, batch_sizes)  # (S, H): h_{t-1} of every row
        if mask is not None:
            grad_h0.mul_(mask)
            previous.mul_(_packed_mask(mask, batch_sizes))  # what each step read
        return grad_pre, grad_h0, grad_pre.t() @ previous, None, None, None, None


def _autograd_backward(
    step: Callable,
    batch_sizes: list[int],
    projected: Tensor,
    state: tuple[Tensor, ...],
    weights: tuple[Tensor | None, ...],
    grads: tuple[Tensor, ...],
) -> tuple[Tensor | None, ...]:
    """Differentiable gradients of ``(projected, *state, *weights)``: autograd through ``step``.

    Runs the cell's reference step over the saved inputs and differentiates it with
    ``create_graph=True``, so the returned gradients carry a graph and higher derivatives equal
    those of the step loop (and of ``torch.nn``). ``grads`` are the gradients reaching the
    history of each state tensor (``(S, size)`` each; those the scan returns).
    """
    inputs = (projected, *state, *weights)
    histories: list[list[Tensor]] = [[] for _ in grads]
    current = state
    for x in projected.split(batch_sizes):
        current = tuple(s[: x.size(0)] for s in current)
        new = step(x, current[0] if len(current) == 1 else current, *weights)
        current = new if isinstance(new, tuple) else (new,)
        for history, part in zip(histories, current, strict=True):
            history.append(part)
    wanted = [index for index, t in enumerate(inputs) if t is not None and t.requires_grad]
    found = torch.autograd.grad(
        [torch.cat(history) for history in histories],
        [inputs[index] for index in wanted],
        grads,
        create_graph=True,
        allow_unused=True,
    )
    result: list[Tensor | None] = [None] * len(inputs)
    for index, grad in zip(wanted, found, strict=True):
        result[index] = grad
    return tuple(result)


def _steps(batch_sizes: list[int], *tensors: Tensor) -> list[tuple[Tensor, ...]]:
    """The rows of each step of each packed ``(S, ...)`` tensor, step by step: views, one
    ``split`` per tensor instead of a slice per step and tensor."""
    return list(zip(*(x.split(batch_sizes) for x in tensors), strict=True))


def _rows(batch_sizes: list[int], *tensors: Tensor) -> list[tuple[Tensor, ...]]:
    """The first ``batch_sizes[t]`` rows of each ``(N, ...)`` buffer, step by step (views made
    once per distinct size)."""
    views = {size: tuple(x[:size] for x in tensors) for size in set(batch_sizes)}
    return [views[size] for size in batch_sizes]


def _add_carried(grad: Tensor, carried: Tensor | None, other: Tensor, fused: Callable) -> Tensor:
    """``grad`` plus the term carried back from the next step, on its first rows (sequences that
    go on to the next step), or ``grad`` itself when nothing is carried.

    ``fused`` is ``torch.addmm`` (the term is ``carried @ other``) or ``torch.addcmul``
    (``carried * other``, both with as many rows as ``carried``).
    """
    if carried is None:
        return grad
    if carried.size(0) == grad.size(0):
        return fused(grad, carried, other)
    grad = grad.clone()
    first = grad[: carried.size(0)]
    fused(first, carried, other, out=first)
    return grad


def _previous(initial: Tensor, states: Tensor, batch_sizes: list[int]) -> Tensor:
    """``(S, H)``: the state each packed row's step started from (``initial`` for step 0)."""
    if batch_sizes[0] == batch_sizes[-1]:  # equal lengths: step t - 1's rows, in order
        return torch.cat((initial, states[: states.size(0) - batch_sizes[-1]]))
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    step = torch.repeat_interleave(torch.arange(len(batch_sizes)), sizes)  # step of each row
    sequence = torch.arange(int(sizes.sum())) - starts[step]
    start = torch.where(step == 0, 0, initial.size(0) + starts[(step - 1).clamp(min=0)])
    rows = (start + sequence).to(states.device)  # in cat((initial, states))
    return torch.cat((initial, states)).index_select(0, rows)


def _packed_mask(mask: Tensor, batch_sizes: list[int]) -> Tensor:
    """``(S, H)``: each packed row's row of the per-sequence ``(N, H)`` mask."""
    return torch.cat([mask[:size] for size in batch_sizes])


def final_rows(states: Tensor, batch_sizes: list[int]) -> Tensor:
    """Each sequence's last row of packed ``(S, H)`` states, ``(N, H)`` in sorted order."""
    if batch_sizes[0] == batch_sizes[-1]:  # equal lengths: the last step's rows
        return states[states.size(0) - batch_sizes[-1] :]
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    lengths = sequence_lengths(batch_sizes)
    rows = (starts[lengths - 1] + torch.arange(batch_sizes[0])).to(states.device)
    return states.index_select(0, rows)


def linear_scan(gates: Tensor, inputs: Tensor, h0: Tensor) -> Tensor:
    r"""All states of :math:`h_t = a_t \odot h_{t-1} + b_t`, ``(L, N, H)`` from ``(L, N, H)``
    gates and inputs and an ``(N, H)`` initial state.

    On the CPU, where :func:`can_fuse` allows, :class:`LinearScan`: one fused kernel per step
    each way and the rest vectorised over all steps (measured faster there than the parallel
    scan, whose ``log2(L)`` rounds each move the whole sequence through memory). Elsewhere
    (accelerators, tracing, export, ``torch.func``) the parallel :func:`linear_recurrence`.
    """
    if gates.device.type == "cpu" and can_fuse(gates, inputs, h0):
        return LinearScan.apply(gates, inputs, h0)
    return linear_recurrence(gates, inputs, h0)


class LinearScan(torch.autograd.Function):
    r"""``(gates, inputs, h_0) -> states`` of :func:`linear_scan`, step by step.

    The gradient reaching each state, :math:`\bar{h}_t = g_t + a_{t+1} \odot \bar{h}_{t+1}`
    (:math:`g_t` the gradient of the output), is the same recurrence backwards in time; then
    :math:`\bar{a}_t = \bar{h}_t \odot h_{t-1}`, :math:`\bar{b}_t = \bar{h}_t` and
    :math:`\bar{h}_0 = a_1 \odot \bar{h}_1` for all steps at once. With ``create_graph`` the
    backward recurrence runs through the differentiable :func:`linear_recurrence`.
    """

    @staticmethod
    def forward(ctx, gates, inputs, h0):  # noqa: ANN001, ANN205
        states, h = torch.empty_like(inputs), h0
        for a, b, out in zip(gates, inputs, states, strict=True):
            h = torch.addcmul(b, a, h, out=out)
        ctx.save_for_backward(gates, h0, states)
        return states

    @staticmethod
    def backward(ctx, grad_states):  # noqa: ANN001, ANN205
        gates, h0, states = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: in reverse time, differentiably
            following = torch.cat((gates[1:], torch.zeros_like(gates[:1])))  # a_{t+1}; 0 at L
            zeros = torch.zeros_like(h0)
            grad = linear_recurrence(following.flip(0), grad_states.flip(0), zeros).flip(0)
            previous = torch.cat((h0.unsqueeze(0), states[:-1]))  # h_{t-1}
            return grad * previous, grad, grad[0] * gates[0]
        grad = torch.empty_like(grad_states)
        grad[-1] = grad_states[-1]
        for t in range(grad.size(0) - 2, -1, -1):
            torch.addcmul(grad_states[t], gates[t + 1], grad[t + 1], out=grad[t])
        grad_gates = torch.empty_like(grad)  # grad * h_{t-1}, without concatenating h_0
        torch.mul(grad[0], h0, out=grad_gates[0])
        torch.mul(grad[1:], states[:-1], out=grad_gates[1:])
        return grad_gates, grad, grad[0] * gates[0]


def linear_recurrence(gates: Tensor, inputs: Tensor, h0: Tensor) -> Tensor:
    r"""All states of :math:`h_t = a_t \odot h_{t-1} + b_t` at once, by a parallel scan.

    The pairs :math:`(a_t, b_t)` compose associatively, :math:`(a, b)` after :math:`(a', b')`
    being :math:`(a a', a b' + b)`, so ``ceil(log2(L))`` rounds of doubling (Hillis & Steele)
    give every prefix. Each round is a few element-wise operations over the whole sequence, in
    linear space: exact for any sign of :math:`b_t` and of the initial state, with the rounding
    of the step loop (no logarithms of the states; a product of gates underflows to 0 as the
    step loop's contribution would).

    Args:
        gates: :math:`a`, ``(L, N, H)``.
        inputs: :math:`b`, ``(L, N, H)``.
        h0: the initial state, ``(N, H)``.

    Returns:
        :math:`h_1, \dots, h_L`, ``(L, N, H)``.
    """
    a, b = gates, torch.cat((torch.addcmul(inputs[:1], gates[:1], h0), inputs[1:]))
    offset = 1
    while offset < a.size(0):  # row t: the composition of steps t - 2 * offset + 1 .. t
        b = torch.cat((b[:offset], torch.addcmul(b[offset:], a[offset:], b[:-offset])))
        if 2 * offset < a.size(0):  # the last round needs no gates
            a = torch.cat((a[:offset], a[offset:] * a[:-offset]))
        offset *= 2
    return b


def padded(packed: Tensor, batch_sizes: list[int], value: float) -> Tensor:
    """Packed ``(S, H)`` rows as ``(L, N, H)`` steps, ``value`` after each sequence's end."""
    steps, batch = len(batch_sizes), batch_sizes[0]
    if batch_sizes[-1] == batch:  # equal lengths: a view
        return packed.view(steps, batch, -1)
    sequence = PackedSequence(packed, torch.tensor(batch_sizes))
    return pad_packed_sequence(sequence, padding_value=value)[0]


def packed_rows(steps: Tensor, batch_sizes: list[int]) -> Tensor:
    """The inverse of :func:`padded`: ``(L, N, H)`` to the packed ``(S, H)`` rows."""
    if batch_sizes[-1] == batch_sizes[0]:
        return steps.flatten(0, 1)
    return pack_padded_sequence(steps, sequence_lengths(batch_sizes)).data


def sequence_lengths(batch_sizes: list[int]) -> Tensor:
    """The length of each sequence of the packed layout, ``(N,)`` in decreasing order."""
    sizes = torch.tensor(batch_sizes)
    return (sizes.unsqueeze(0) > torch.arange(batch_sizes[0]).unsqueeze(1)).sum(1)
