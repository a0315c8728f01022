r"""Greedy and beam-search decoding over a step function.

Both searches only call a *step*: ``step(tokens, state) -> (log_probs, state, weights)`` maps the
previous tokens ``(B,)`` and a decoder state to the next token's log-probabilities ``(B, V)``,
the new state and the attention weights ``(B, S)`` (or None). The state is anything with
``index_select(index)`` returning its rows ``index`` (beam search reorders hypotheses with it),
such as :class:`~seqmodels.models.seq2seq.model.DecoderState`; :meth:`Seq2Seq.step
<seqmodels.models.Seq2Seq.step>` is such a step.

Shapes: ``N`` sequences, ``L`` generated tokens, ``S`` source length, ``V`` vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol, TypeVar

import torch
from torch import Tensor

__all__ = ["Generation", "SearchState", "Step", "beam_search", "greedy_search"]


class SearchState(Protocol):
    """A decoder state whose rows (one per sequence or hypothesis) can be selected."""

    def index_select(self, index: Tensor) -> SearchState: ...


StateT = TypeVar("StateT", bound=SearchState)
Step = Callable[[Tensor, StateT], tuple[Tensor, StateT, Tensor | None]]
"""``(tokens (B,), state) -> (log_probs (B, V), new state, attention weights (B, S) or None)``."""


class Generation(NamedTuple):
    """Output of the searches (and of :meth:`Seq2Seq.generate <seqmodels.models.Seq2Seq.generate>`).

    Attributes:
        tokens: ``(N, L)`` generated ids without ``<sos>``; each row ends with ``<eos>`` (unless
            ``max_len`` was reached) followed by padding.
        lengths: ``(N,)`` number of tokens in each row, ``<eos>`` included.
        scores: ``(N,)`` log-probability of each sequence (sum over its tokens).
        attention: ``(N, L, S)`` attention weights of each generated token, or None without
            attention.
    """

    tokens: Tensor
    lengths: Tensor
    scores: Tensor
    attention: Tensor | None


def _lengths(tokens: Tensor, eos_id: int) -> Tensor:
    """Length of each row of ``tokens`` ``(N, L)`` up to and including its first ``eos_id``."""
    is_eos = tokens == eos_id
    first = is_eos.int().argmax(1)  # index of the first <eos> (0 when there is none)
    return torch.where(is_eos.any(1), first + 1, torch.full_like(first, tokens.size(1)))


@torch.no_grad()
def greedy_search(
    step: Step, state: SearchState, start: Tensor, eos_id: int, pad_id: int, max_len: int
) -> Generation:
    """Feed back the most likely token at each step until every sequence has ``<eos>``.

    Args:
        step: the step function (see the module docstring).
        state: the decoder state of the ``N`` sequences.
        start: ``(N,)`` the first input tokens (``<sos>``).
        eos_id, pad_id: end and padding ids; a finished sequence continues with padding.
        max_len: most tokens generated.
    """
    token = start
    finished = torch.zeros_like(start, dtype=torch.bool)
    scores = torch.zeros(start.shape, device=start.device)
    tokens, weights = [], []
    for _ in range(max_len):
        log_probs, state, w = step(token, state)
        token = log_probs.argmax(-1).masked_fill(finished, pad_id)
        scores += log_probs.gather(1, token[:, None]).squeeze(1).masked_fill(finished, 0.0)
        tokens.append(token)
        weights.append(w)
        finished |= token == eos_id
        if finished.all():
            break
    tokens = torch.stack(tokens, dim=1)  # (N, L)
    attention = None if weights[0] is None else torch.stack(weights, dim=1)  # (N, L, S)
    return Generation(tokens, _lengths(tokens, eos_id), scores, attention)


@torch.no_grad()
def beam_search(
    step: Step,
    state: SearchState,
    start: Tensor,
    eos_id: int,
    pad_id: int,
    max_len: int,
    beam_size: int,
    length_penalty: float = 1.0,
) -> Generation:
    r"""Beam search over all sequences at once.

    Keeps the ``beam_size`` best partial outputs by total log-probability; a finished one
    (ending in ``<eos>``) stays in the beam with its score frozen. Stops when the whole beam is
    finished or after ``max_len`` tokens, and returns for each sequence the hypothesis with the
    best :math:`\log p(y) / |y|^{\alpha}`, :math:`\alpha` = ``length_penalty`` (0 ranks by raw
    log-probability; larger values favour longer outputs).

    Args:
        step, state, start, eos_id, pad_id, max_len: as for :func:`greedy_search`.
        beam_size: hypotheses kept per sequence, at most the vocabulary size.
        length_penalty: :math:`\alpha` above.
    """
    n, beam, device = start.size(0), beam_size, start.device
    # every sequence becomes `beam` rows: row n * beam + b is hypothesis b of sequence n
    rows = torch.arange(n, device=device).repeat_interleave(beam)
    state, token = state.index_select(rows), start[rows]
    scores = torch.full((n, beam), float("-inf"), device=device)
    scores[:, 0] = 0.0  # start from one hypothesis so the first step does not repeat it
    finished = torch.zeros(n * beam, dtype=torch.bool, device=device)
    tokens = torch.empty(n * beam, 0, dtype=torch.long, device=device)
    weights = None
    for _ in range(max_len):
        log_probs, state, w = step(token, state)
        vocab = log_probs.size(-1)
        # a finished hypothesis can only be continued by padding, at no cost
        after_eos = torch.full((vocab,), float("-inf"), device=device)
        after_eos[pad_id] = 0.0
        log_probs = torch.where(finished[:, None], after_eos, log_probs)
        candidates = (scores.view(-1, 1) + log_probs).view(n, beam * vocab)
        scores, best = candidates.topk(beam, dim=1)  # (n, beam)
        parent = (torch.arange(n, device=device)[:, None] * beam + best // vocab).view(-1)
        token = (best % vocab).view(-1)
        state = state.index_select(parent)
        tokens = torch.cat([tokens[parent], token[:, None]], dim=1)
        if w is not None:  # (n * beam, t, S) -> (n * beam, t + 1, S)
            w = w[parent, None]
            weights = w if weights is None else torch.cat([weights[parent], w], dim=1)
        finished = finished[parent] | (token == eos_id)
        if finished.all():
            break
    lengths = _lengths(tokens, eos_id).view(n, beam)
    pick = (scores / lengths.float() ** length_penalty).argmax(1)  # (n,)
    chosen = torch.arange(n, device=device) * beam + pick
    return Generation(
        tokens[chosen],
        lengths.view(-1)[chosen],
        scores.gather(1, pick[:, None]).squeeze(1),
        None if weights is None else weights[chosen],
    )
