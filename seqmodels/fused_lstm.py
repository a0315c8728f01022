r"""The LSTM recurrence over a whole sequence, with back-propagation through time by hand.

Autograd through :meth:`seqmodels.LSTMCell.step` computes the gradient of ``weight_hh`` as one
small matmul per time step. This function computes the same values with one matmul per step in
each direction of the pass, and the weight gradient as a single matmul over all steps:

.. math::
    \frac{\partial L}{\partial W_{hh}} = \sum_t \delta_t^\top h_{t-1}
        = \Delta^\top H_{\mathrm{prev}}, \qquad
    \Delta = (\delta_1, \dots, \delta_L), \; H_{\mathrm{prev}} = (h_0, \dots, h_{L-1})

where :math:`\delta_t` is the gradient of the gate pre-activations at step :math:`t`. The tests
check it against ``torch.nn.LSTM`` and with ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LSTMScan(torch.autograd.Function):
    """``(projected, h_0, c_0, weight_hh) -> (outputs, c_n)`` for a dense batch.

    ``projected`` is ``(L, N, 4H)``: the input projections of all steps, both biases included
    (:meth:`seqmodels.LSTMCell.project_input`). ``outputs`` is ``(L, N, H)``; the final hidden
    state is ``outputs[-1]``.
    """

    @staticmethod
    def forward(ctx, projected: Tensor, h0: Tensor, c0: Tensor, weight_hh: Tensor):  # noqa: ANN205
        steps, hidden = projected.size(0), c0.size(1)
        weight_t = weight_hh.t()
        outputs = projected.new_empty(steps, *h0.shape)
        cells = projected.new_empty(steps + 1, *c0.shape)  # c_0 .. c_L
        cells[0] = c0
        gates = torch.empty_like(projected)  # activated i, f, g, o of every step
        tanh_cells = projected.new_empty(steps, *c0.shape)
        h = h0
        for t in range(steps):
            pre = torch.addmm(projected[t], h, weight_t)  # (N, 4H)
            act = gates[t]
            torch.sigmoid(pre, out=act)
            i, f, g, o = act.unsafe_chunk(4, 1)
            g.copy_(pre[:, 2 * hidden : 3 * hidden].tanh())  # tanh(out=strided view) is slow
            torch.addcmul(f * cells[t], i, g, out=cells[t + 1])
            torch.tanh(cells[t + 1], out=tanh_cells[t])
            h = torch.mul(o, tanh_cells[t], out=outputs[t])
        ctx.save_for_backward(h0, weight_hh, outputs, cells, gates, tanh_cells)
        return outputs, cells[steps].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_outputs: Tensor | None, grad_cell: Tensor | None):  # noqa: ANN205
        h0, weight_hh, outputs, cells, gates, tanh_cells = ctx.saved_tensors
        steps, hidden = outputs.size(0), cells.size(2)
        if grad_outputs is None:
            grad_outputs = torch.zeros_like(outputs)
        grad_c = torch.zeros_like(cells[0]) if grad_cell is None else grad_cell.clone()
        # derivative of each activation at its output, for all steps at once
        slope = gates * (1 - gates)
        g = gates[..., 2 * hidden : 3 * hidden]
        slope[..., 2 * hidden : 3 * hidden] = 1 - g * g
        o = gates[..., 3 * hidden :]
        slope_c = o * (1 - tanh_cells * tanh_cells)  # d h / d c through tanh, times o
        grad_gates = torch.empty_like(gates)  # δ_t, pre-activation
        grad_h = torch.zeros_like(h0)
        for t in range(steps - 1, -1, -1):
            grad_h = grad_h + grad_outputs[t]
            i, f, g, o = gates[t].unsafe_chunk(4, 1)
            d_i, d_f, d_g, d_o = grad_gates[t].unsafe_chunk(4, 1)
            torch.mul(grad_h, tanh_cells[t], out=d_o)
            grad_c = torch.addcmul(grad_c, grad_h, slope_c[t])
            torch.mul(grad_c, g, out=d_i)
            torch.mul(grad_c, cells[t], out=d_f)
            torch.mul(grad_c, i, out=d_g)
            grad_gates[t].mul_(slope[t])
            grad_c = grad_c * f
            grad_h = grad_gates[t] @ weight_hh  # (N, 4H) @ (4H, H)
        # (L, N, H) previous hidden states h_0 .. h_{L-1}
        previous = torch.cat((h0.unsqueeze(0), outputs[:-1]))
        grad_weight = grad_gates.flatten(0, 1).t() @ previous.flatten(0, 1)  # (4H, H)
        return grad_gates, grad_h, grad_c, grad_weight
