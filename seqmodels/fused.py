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

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LSTMScan(torch.autograd.Function):
    """``(projected, h_0, c_0, weight_hh, batch_sizes) -> (outputs, cells)``, packed layout.

    ``projected`` is ``(S, 4H)``: the input projections of every step of every sequence (both
    biases included, see :meth:`seqmodels.LSTMCell.project_input`) in the packed layout of
    :func:`seqmodels.recurrent.run_cell`: ``batch_sizes[t]`` rows per step ``t``, sequences
    sorted by decreasing length. ``h_0``, ``c_0`` are ``(N, H)``. Returns the hidden states
    ``outputs`` and the cell states ``cells`` of every step, both ``(S, H)`` in the same layout.
    """

    @staticmethod
    def forward(ctx, projected, h0, c0, weight_hh, batch_sizes):  # noqa: ANN001, ANN205
        hidden = c0.size(1)
        weight_t = weight_hh.t()
        outputs = projected.new_empty(projected.size(0), h0.size(1))
        cells = projected.new_empty(projected.size(0), hidden)
        tanh_cells = torch.empty_like(cells)
        gates = torch.empty_like(projected)  # activated i, f, g, o of every step
        h, c, start = h0, c0, 0
        for size in batch_sizes:
            rows = slice(start, start + size)
            pre = torch.addmm(projected[rows], h[:size], weight_t)  # (N_t, 4H)
            act = gates[rows]
            torch.sigmoid(pre, out=act)
            i, f, g, o = act.unsafe_chunk(4, 1)
            g.copy_(pre[:, 2 * hidden : 3 * hidden].tanh())  # tanh(out=strided view) is slow
            c = torch.addcmul(f * c[:size], i, g, out=cells[rows])
            torch.tanh(c, out=tanh_cells[rows])
            h = torch.mul(o, tanh_cells[rows], out=outputs[rows])
            start += size
        ctx.batch_sizes = batch_sizes
        ctx.save_for_backward(h0, c0, weight_hh, outputs, cells, gates, tanh_cells)
        return outputs, cells

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs, grad_cells):  # noqa: ANN001, ANN205
        h0, c0, weight_hh, outputs, cells, gates, tanh_cells = ctx.saved_tensors
        batch_sizes, hidden = ctx.batch_sizes, cells.size(1)
        if grad_outputs is None:
            grad_outputs = torch.zeros_like(outputs)
        if grad_cells is None:
            grad_cells = torch.zeros_like(cells)
        # derivative of each activation at its output, for all steps at once
        slope = gates * (1 - gates)
        g = gates[:, 2 * hidden : 3 * hidden]
        slope[:, 2 * hidden : 3 * hidden] = 1 - g * g
        slope_c = gates[:, 3 * hidden :] * (1 - tanh_cells * tanh_cells)  # o * tanh'(c)
        grad_gates = torch.empty_like(gates)  # δ, pre-activation, every step
        starts = [0]
        for size in batch_sizes[:-1]:
            starts.append(starts[-1] + size)
        grad_h = grad_c = h0.new_zeros(0, h0.size(1))  # from step t + 1 into step t's state
        for t in range(len(batch_sizes) - 1, -1, -1):
            size, start = batch_sizes[t], starts[t]
            rows = slice(start, start + size)
            grad_h = _add_to_first_rows(grad_outputs[rows], grad_h)
            grad_c = _add_to_first_rows(grad_cells[rows], grad_c)
            i, f, g, o = gates[rows].unsafe_chunk(4, 1)
            d_i, d_f, d_g, d_o = grad_gates[rows].unsafe_chunk(4, 1)
            c_prev = c0[:size] if t == 0 else cells[starts[t - 1] : starts[t - 1] + size]
            torch.mul(grad_h, tanh_cells[rows], out=d_o)
            grad_c = torch.addcmul(grad_c, grad_h, slope_c[rows])
            torch.mul(grad_c, g, out=d_i)
            torch.mul(grad_c, c_prev, out=d_f)
            torch.mul(grad_c, i, out=d_g)
            grad_gates[rows].mul_(slope[rows])
            grad_c = grad_c * f
            grad_h = grad_gates[rows] @ weight_hh  # (N_t, 4H) @ (4H, H)
        # (S, H): the hidden state each row's step started from
        previous = torch.cat((h0, outputs)).index_select(0, _previous_rows(batch_sizes, h0))
        grad_weight = grad_gates.t() @ previous  # (4H, H)
        return grad_gates, grad_h, grad_c, grad_weight, None


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
        h, start = h0, 0
        for size in batch_sizes:
            rows = slice(start, start + size)
            h = h[:size]
            if bias_hh is None:
                recurrent = h @ weight_t  # (N_t, 3H)
            else:
                recurrent = torch.addmm(bias_hh, h, weight_t)
            x = projected[rows]
            r_z = torch.sigmoid(x[:, : 2 * hidden] + recurrent[:, : 2 * hidden], out=gates[rows])
            r, z = r_z.unsafe_chunk(2, 1)
            recurrent_n[rows] = recurrent[:, 2 * hidden :]
            n = torch.tanh(torch.addcmul(x[:, 2 * hidden :], r, recurrent_n[rows]), out=new[rows])
            h = torch.addcmul(n, z, h - n, out=outputs[rows])  # (1 - z) n + z h
            start += size
        ctx.batch_sizes = batch_sizes
        ctx.has_bias = bias_hh is not None
        ctx.save_for_backward(h0, weight_hh, outputs, gates, new, recurrent_n)
        return outputs

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs):  # noqa: ANN001, ANN205
        h0, weight_hh, outputs, gates, new, recurrent_n = ctx.saved_tensors
        batch_sizes, hidden = ctx.batch_sizes, h0.size(1)
        previous = torch.cat((h0, outputs)).index_select(0, _previous_rows(batch_sizes, h0))
        r, z = gates.unsafe_chunk(2, 1)
        slope_n = 1 - new * new  # tanh'
        slope = gates * (1 - gates)  # sigmoid' of r and z
        grad_projected = gates.new_empty(gates.size(0), 3 * hidden)
        grad_recurrent = torch.empty_like(grad_projected)  # w.r.t. W_hh h + b_hh
        starts = [0]
        for size in batch_sizes[:-1]:
            starts.append(starts[-1] + size)
        grad_h = h0.new_zeros(0, hidden)  # from step t + 1 into step t's state
        for t in range(len(batch_sizes) - 1, -1, -1):
            size, start = batch_sizes[t], starts[t]
            rows = slice(start, start + size)
            grad_h = _add_to_first_rows(grad_outputs[rows], grad_h)
            d_r, d_z, d_n = grad_projected[rows].unsafe_chunk(3, 1)
            _, _, d_recurrent_n = grad_recurrent[rows].unsafe_chunk(3, 1)
            torch.mul(grad_h * (1 - z[rows]), slope_n[rows], out=d_n)  # before tanh
            torch.mul(grad_h, previous[rows] - new[rows], out=d_z)
            torch.mul(d_n, recurrent_n[rows], out=d_r)
            torch.mul(d_n, r[rows], out=d_recurrent_n)
            grad_projected[rows, : 2 * hidden].mul_(slope[rows])
            grad_recurrent[rows, : 2 * hidden] = grad_projected[rows, : 2 * hidden]
            grad_h = torch.addmm(grad_h * z[rows], grad_recurrent[rows], weight_hh)
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
        h, start = h0, 0
        for size in batch_sizes:
            rows = slice(start, start + size)
            h = activation(torch.addmm(projected[rows], h[:size], weight_t))
            outputs[rows] = h
            start += size
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
        starts = [0]
        for size in batch_sizes[:-1]:
            starts.append(starts[-1] + size)
        grad_h = h0.new_zeros(0, h0.size(1))  # from step t + 1 into step t's state
        for t in range(len(batch_sizes) - 1, -1, -1):
            rows = slice(starts[t], starts[t] + batch_sizes[t])
            grad_h = _add_to_first_rows(grad_outputs[rows], grad_h)
            torch.mul(grad_h, slope[rows], out=grad_pre[rows])
            grad_h = grad_pre[rows] @ weight_hh
        previous = torch.cat((h0, outputs)).index_select(0, _previous_rows(batch_sizes, h0))
        return grad_pre, grad_h, grad_pre.t() @ previous, None, None


def _add_to_first_rows(grad: Tensor, carried: Tensor) -> Tensor:
    """``grad`` plus ``carried`` on its first rows (sequences that go on to the next step)."""
    if carried.size(0) == grad.size(0):
        return grad + carried
    grad = grad.clone()
    grad[: carried.size(0)] += carried
    return grad


def _previous_rows(batch_sizes: list[int], h0: Tensor) -> Tensor:
    """Row of ``cat((h0, outputs))`` holding the state each packed row's step started from."""
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    step = torch.repeat_interleave(torch.arange(len(batch_sizes)), sizes)  # step of each row
    sequence = torch.arange(int(sizes.sum())) - starts[step]
    previous_start = torch.where(step == 0, 0, h0.size(0) + starts[(step - 1).clamp(min=0)])
    return (previous_start + sequence).to(h0.device)


def last_rows(batch_sizes: list[int], device: torch.device) -> Tensor:
    """Row of each sequence's last step in the packed layout, ``(N,)`` in sorted order."""
    sizes = torch.tensor(batch_sizes)
    starts = torch.cumsum(sizes, 0) - sizes
    lengths = (sizes.unsqueeze(0) > torch.arange(batch_sizes[0]).unsqueeze(1)).sum(1)
    return (starts[lengths - 1] + torch.arange(batch_sizes[0])).to(device)
