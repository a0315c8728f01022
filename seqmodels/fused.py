r"""Linear recurrences over whole batches: the scans of minGRU and minLSTM.

The minimal cells' state is a linear function of the previous one,
:math:`h_t = a_t \odot h_{t-1} + b_t`, with gates that read the input only, so a whole
sequence runs at once: :func:`linear_recurrence` by a parallel scan that every PyTorch
transform understands, and on the CPU :class:`LinearScan`, a step loop with the gradient by
hand (``scripts/benchmark.py --mingru`` times the two). :func:`can_fuse` says when the latter may
serve a call.

The built-in RNN, LSTM and GRU layers run torch's own fused kernels instead (see
:mod:`seqmodels.kernels`), and every other cell its readable ``step``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.autograd import forward_ad
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

__all__ = [
    "can_fuse",
    "linear_scan",
    "linear_recurrence",
    "padded",
    "packed_rows",
    "ACTIVATIONS",
]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "leaky_relu": nn.functional.leaky_relu,
}


def can_fuse(*tensors: Tensor | None) -> bool:
    """Whether :class:`LinearScan` (an eager ``autograd.Function`` over plain tensors) may serve
    a call on these tensors: not while tracing, compiling or exporting, not under a
    ``torch.func`` transform or forward-mode AD, and not for tensor subclasses."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return False
    if under_functorch_transform():
        return False
    return all(t is None or type(t) in (Tensor, nn.Parameter) for t in tensors)


def under_functorch_transform() -> bool:
    """Whether a ``torch.func`` transform (``vmap``, ``grad``, ``jvp``, ...) or forward-mode AD
    is active.

    torch has no public query for this; these are the two private ones it offers, kept in this
    one function (``tests/test_min_cells.py`` checks it inside and outside each transform, so a
    change in torch fails loudly there).
    """
    if torch._C._functorch.peek_interpreter_stack() is not None:
        return True
    return forward_ad._current_level >= 0


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
        # out-of-place, so that batched gradients (vmap over this backward) work
        grads = [grad_states[-1]]
        for t in range(grad_states.size(0) - 2, -1, -1):
            grads.append(torch.addcmul(grad_states[t], gates[t + 1], grads[-1]))
        grad = torch.stack(grads[::-1])
        previous = torch.cat((h0.unsqueeze(0), states[:-1]))  # h_{t-1}
        return grad * previous, grad, grad[0] * gates[0]


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
