r"""RNN, LSTM and GRU recurrences over whole batches, back-propagated through time by hand.

Autograd through :meth:`seqmodels.LSTMCell.step` (or ``GRUCell.step``) computes the gradient of
``weight_hh`` as one small matmul per time step. :class:`LSTMScan`, :class:`GRUScan` and
:class:`RNNScan` compute
the same values with one matmul per step in each direction of the pass, and the weight gradient
as a single matmul over all steps:

.. math::
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1}
        = \Delta^\top H_{\mathrm{prev}}

where :math:`\delta_t` is the gradient of the recurrent pre-activations at step :math:`t`, and
:math:`\Delta`, :math:`H_{\mathrm{prev}}` stack them (and the previous hidden states) over all
steps and sequences. Both work in the packed layout of :meth:`seqmodels.RecurrentCell.scan`
(``batch_sizes[t]`` rows per step, sequences sorted by decreasing length). The tests check them
against ``torch.nn`` and with ``gradcheck``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LSTMScan(torch.autograd.Function):
    r"""``(projected, h_0, c_0, weight_hh, batch_sizes) -> (outputs, cells)``, packed layout.

    ``projected`` is ``(S, 4H)``: the input projections of every step of every sequence (both
    biases included, see :meth:`seqmodels.LSTMCell.project_input`) in the packed layout of
    :func:`seqmodels.recurrent.run_cell`: ``batch_sizes[t]`` rows per step ``t``, sequences
    sorted by decreasing length. ``h_0``, ``c_0`` are ``(N, H)``. Returns the hidden states
    ``outputs`` and the cell states ``cells`` of every step, both ``(S, H)`` in the same layout.

    The backward pass writes the gradients of the gates' pre-activations at step :math:`t` as

    .. math::
        \delta_{i,f,g} = \bar{c}_t \odot (a_i, a_f, a_g), \quad \delta_o = \bar{h}_t \odot a_o,
        \quad (a_i, a_f, a_g, a_o) = (g\,\sigma'_i,\ c_{t-1}\,\sigma'_f,\ i \tanh'_g,\
        \tanh(c_t)\,\sigma'_o)

    where :math:`\bar{h}_t, \bar{c}_t` are the gradients reaching the step's states. The
    coefficients :math:`a` are computed for all steps at once, so a step costs one matmul and
    four element-wise kernels.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, weight_hh, batch_sizes):  # noqa: ANN001, ANN205
        hidden = c0.size(1)
        weight_t = weight_hh.t().contiguous()  # (H, 4H): a contiguous copy multiplies faster
        outputs = projected.new_empty(projected.size(0), h0.size(1))
        cells = projected.new_empty(projected.size(0), hidden)
        tanh_cells = torch.empty_like(cells)
        gates = torch.empty_like(projected)  # activated i, f, g, o of every step
        pre = projected.new_empty(h0.size(0), projected.size(1))  # one step's pre-activations
        steps = _steps(batch_sizes, projected, gates, cells, tanh_cells, outputs)
        h, c = h0, c0
        for x, act, c_out, tanh_c_out, h_out in steps:
            if x.size(0) < h.size(0):  # sequences that ended drop out (packed input)
                h, c, pre = h[: x.size(0)], c[: x.size(0)], pre[: x.size(0)]
            torch.addmm(x, h, weight_t, out=pre)
            i, f, g, o = torch.sigmoid(pre, out=act).unsafe_chunk(4, 1)
            torch.tanh(pre[:, 2 * hidden : 3 * hidden], out=g)
            c = torch.addcmul(f * c, i, g, out=c_out)
            h = torch.mul(o, torch.tanh(c, out=tanh_c_out), out=h_out)
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(h0, c0, weight_hh, outputs, cells, gates, tanh_cells)
        return outputs, cells

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_cells):  # noqa: ANN001, ANN205
        h0, c0, weight_hh, outputs, cells, gates, tanh_cells = ctx.saved_tensors
        batch_sizes, hidden = ctx.batch_sizes, cells.size(1)
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
            grad_h = _add_carried(grad_out, delta, weight_hh, torch.addmm)  # h̄_t
            grad_c = _add_carried(grad_cell, grad_c, f_next, torch.addcmul)
            grad_c = torch.addcmul(grad_c, grad_h, slope)  # c̄_t
            torch.mul(grad_c.unsqueeze(1), a_ifg, out=d_ifg)
            torch.mul(grad_h, a_o_t, out=d_o)
            delta, f_next = d, f_t
        grad_h0 = delta @ weight_hh
        grad_c0 = grad_c * f_next
        grad_weight = grad_gates.t() @ _previous(h0, outputs, batch_sizes)  # (4H, H)
        return grad_gates, grad_h0, grad_c0, grad_weight, None


class GRUScan(torch.autograd.Function):
    """``(projected, h_0, weight_hh, bias_hh, batch_sizes) -> outputs``, packed layout.

    ``projected`` is ``(S, 3H)``, the input projections with ``bias_ih``
    (:meth:`seqmodels.GRUCell.project_input`); ``bias_hh`` may be None. Returns the hidden
    states of every step, ``(S, H)``.
    """

    @staticmethod
    def forward(ctx, projected, h0, weight_hh, bias_hh, batch_sizes):  # noqa: ANN001, ANN205
        hidden = h0.size(1)
        weight_t = weight_hh.t()
        outputs = projected.new_empty(projected.size(0), hidden)
        gates = projected.new_empty(projected.size(0), 2 * hidden)  # r, z of every step
        new = torch.empty_like(outputs)  # n of every step
        recurrent_n = torch.empty_like(outputs)  # W_hn h + b_hn of every step
        h = h0
        for x, r_z_out, n_out, recurrent_n_out, h_out in _steps(
            batch_sizes, projected, gates, new, recurrent_n, outputs
        ):
            h = h[: x.size(0)]
            if bias_hh is None:
                recurrent = h @ weight_t  # (N_t, 3H)
            else:
                recurrent = torch.addmm(bias_hh, h, weight_t)
            r_z = torch.sigmoid(x[:, : 2 * hidden] + recurrent[:, : 2 * hidden], out=r_z_out)
            r, z = r_z.unsafe_chunk(2, 1)
            recurrent_n_out.copy_(recurrent[:, 2 * hidden :])
            n = torch.tanh(torch.addcmul(x[:, 2 * hidden :], r, recurrent_n_out), out=n_out)
            h = torch.addcmul(n, z, h - n, out=h_out)  # (1 - z) n + z h
        ctx.batch_sizes = batch_sizes
        ctx.has_bias = bias_hh is not None
        ctx.save_for_backward(h0, weight_hh, outputs, gates, new, recurrent_n)
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, weight_hh, outputs, gates, new, recurrent_n = ctx.saved_tensors
        batch_sizes, hidden = ctx.batch_sizes, h0.size(1)
        previous = _previous(h0, outputs, batch_sizes)
        r, z = gates.unsafe_chunk(2, 1)
        sigmoid_slope = gates * (1 - gates)
        # for all steps at once: ∂h'/∂ of the n and z pre-activations, ∂(n's)/∂(r's)
        a_n = (1 - z) * (1 - new * new)
        a_z = (previous - new) * sigmoid_slope[:, hidden:]
        a_r = recurrent_n * sigmoid_slope[:, :hidden]
        grad_projected = gates.new_empty(gates.size(0), 3 * hidden)
        grad_recurrent = torch.empty_like(grad_projected)  # w.r.t. W_hh h + b_hh
        d_n = grad_projected[:, 2 * hidden :]
        steps = _steps(batch_sizes, grad_outputs, z, r, a_n, a_z, a_r, grad_recurrent, d_n)
        grad_h = carried = z_next = None  # step t + 1's h̄, δ of W_hh h + b_hh and z
        for grad_out, z_t, r_t, a_n_t, a_z_t, a_r_t, d_recurrent, d_n in reversed(steps):
            grad_h = _add_carried(grad_out, grad_h, z_next, torch.addcmul)
            grad_h = _add_carried(grad_h, carried, weight_hh, torch.addmm)  # h̄_t
            d_r, d_z, d_recurrent_n = d_recurrent.unsafe_chunk(3, 1)
            torch.mul(grad_h, a_n_t, out=d_n)
            torch.mul(grad_h, a_z_t, out=d_z)
            torch.mul(d_n, a_r_t, out=d_r)
            torch.mul(d_n, r_t, out=d_recurrent_n)
            carried, z_next = d_recurrent, z_t
        grad_h = torch.addmm(grad_h * z_next, carried, weight_hh)  # h̄_0
        grad_projected[:, : 2 * hidden] = grad_recurrent[:, : 2 * hidden]
        grad_weight = grad_recurrent.t() @ previous  # (3H, H)
        grad_bias = grad_recurrent.sum(0) if ctx.has_bias else None
        return grad_projected, grad_h, grad_weight, grad_bias, None


class RNNScan(torch.autograd.Function):
    """``(projected, h_0, weight_hh, nonlinearity, batch_sizes) -> outputs``, packed layout.

    ``projected`` is ``(S, H)``, the input projections with both biases
    (:meth:`seqmodels.RNNCell.project_input`). Returns the hidden states of every step.
    """

    @staticmethod
    def forward(ctx, projected, h0, weight_hh, nonlinearity, batch_sizes):  # noqa: ANN001, ANN205
        weight_t = weight_hh.t()
        activation = {
            "tanh": torch.tanh,
            "relu": torch.relu,
            "sigmoid": torch.sigmoid,
            "leaky_relu": torch.nn.functional.leaky_relu,
        }[nonlinearity]
        outputs = torch.empty_like(projected)
        h = h0
        for x, h_out in _steps(batch_sizes, projected, outputs):
            h = activation(torch.addmm(x, h[: x.size(0)], weight_t))
            h_out.copy_(h)
        ctx.batch_sizes, ctx.nonlinearity = batch_sizes, nonlinearity
        ctx.save_for_backward(h0, weight_hh, outputs)
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, weight_hh, outputs = ctx.saved_tensors
        batch_sizes = ctx.batch_sizes
        # derivative of the activation, from its output, for all steps at once
        slope = {
            "tanh": lambda h: 1 - h * h,
            "relu": lambda h: (h > 0).to(h.dtype),
            "sigmoid": lambda h: h * (1 - h),
            "leaky_relu": lambda h: torch.where(h > 0, 1.0, 0.01).to(h.dtype),
        }[ctx.nonlinearity](outputs)
        grad_pre = torch.empty_like(outputs)
        steps = _steps(batch_sizes, grad_outputs, slope, grad_pre)
        delta = None  # step t + 1's
        for grad_out, slope_t, d in reversed(steps):
            grad_h = _add_carried(grad_out, delta, weight_hh, torch.addmm)  # h̄_t
            delta = torch.mul(grad_h, slope_t, out=d)
        previous = _previous(h0, outputs, batch_sizes)
        return grad_pre, delta @ weight_hh, grad_pre.t() @ previous, None, None


def _steps(batch_sizes: list[int], *tensors: Tensor) -> list[tuple[Tensor, ...]]:
    """The rows of each step of each packed ``(S, ...)`` tensor, step by step: views, one
    ``split`` per tensor instead of a slice per step and tensor."""
    return list(zip(*(x.split(batch_sizes) for x in tensors), strict=True))


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


def last_rows(batch_sizes: list[int], device: torch.device) -> Tensor:
    """Row of each sequence's last step in the packed layout, ``(N,)`` in sorted order."""
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    lengths = (sizes.unsqueeze(0) > torch.arange(batch_sizes[0]).unsqueeze(1)).sum(1)
    return (starts[lengths - 1] + torch.arange(batch_sizes[0])).to(device)
