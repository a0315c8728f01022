"""Attention over encoder outputs, with padding masked out.

Shapes: ``N`` batch size, ``S`` source length, ``T`` query steps, ``Q`` query size, ``M`` encoder
output ("memory") size, ``K`` key size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["ATTENTIONS", "Attention", "Memory"]

ATTENTIONS = ("none", "bahdanau", "luong_dot", "luong_general")
"""The decoder's attention options; every one but ``"none"`` is an :class:`Attention` score."""


class Memory(NamedTuple):
    """What the decoder attends to: encoder outputs, their projected keys and the padding mask.

    Attributes:
        values: encoder outputs, ``(N, S, M)``.
        keys: ``values`` projected for the attention score (``(N, S, K)``), or ``values`` itself.
        mask: ``(N, S)`` bool, True at valid (non-padding) source positions.
    """

    values: Tensor
    keys: Tensor
    mask: Tensor

    def index_select(self, index: Tensor) -> Memory:
        """The rows ``index`` of every tensor (to follow reordered or repeated sequences)."""
        return Memory(*(t.index_select(0, index) for t in self))


class Attention(nn.Module):
    r"""Attention over encoder outputs with padding masked out.

    For a decoder query :math:`q` and encoder outputs :math:`m_j` the weights are
    :math:`a_j = \mathrm{softmax}_j(e_j)` over valid positions only (exactly 0 on padding) and the
    context is :math:`c = \sum_j a_j m_j`, with the score :math:`e_j`

    * ``"bahdanau"`` (additive): :math:`v^\top \tanh(W_q q + W_k m_j)`
    * ``"luong_dot"``: :math:`q^\top m_j` (needs ``query_size == memory_size``)
    * ``"luong_general"``: :math:`q^\top W m_j`

    Args:
        attention: ``"bahdanau"``, ``"luong_dot"`` or ``"luong_general"`` (a name of
            :data:`ATTENTIONS` but ``"none"``).
        query_size: size of the decoder state used as query.
        memory_size: size of the encoder outputs.
        attention_size: hidden size of the additive score (``"bahdanau"`` only); defaults to
            ``query_size``.

    Example:
        >>> attn = Attention("luong_general", query_size=8, memory_size=6)
        >>> memory = attn.memory(torch.randn(2, 5, 6), torch.tensor([5, 3]))
        >>> context, weights = attn(torch.randn(2, 4, 8), memory)
        >>> context.shape, weights.shape
        (torch.Size([2, 4, 6]), torch.Size([2, 4, 5]))
    """

    def __init__(
        self, attention: str, query_size: int, memory_size: int, attention_size: int | None = None
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS[1:]:
            names = ", ".join(map(repr, ATTENTIONS[1:]))
            raise ValueError(f"attention must be one of {names}, got {attention!r}")
        if attention == "luong_dot" and query_size != memory_size:
            raise ValueError(
                f"luong_dot attention needs decoder hidden_size == encoder output size, got "
                f"{query_size} and {memory_size} (use attention='luong_general', or merge='sum' "
                f"for a bidirectional encoder)"
            )
        self.kind = attention
        if attention == "bahdanau":
            attention_size = attention_size or query_size
            self.key = nn.Linear(memory_size, attention_size, bias=False)
            self.query = nn.Linear(query_size, attention_size)
            self.v = nn.Linear(attention_size, 1, bias=False)
        elif attention == "luong_general":
            self.key = nn.Linear(memory_size, query_size, bias=False)

    def extra_repr(self) -> str:
        return repr(self.kind)

    def memory(self, values: Tensor, lengths: Tensor) -> Memory:
        """Precompute keys and the padding mask for encoder outputs ``values`` ``(N, S, M)``."""
        keys = values if self.kind == "luong_dot" else self.key(values)
        positions = torch.arange(values.size(1), device=values.device)
        mask = positions[None, :] < lengths.to(values.device)[:, None]  # (N, S)
        return Memory(values, keys, mask)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` ``(N, T, Q)``: context ``(N, T, M)`` and weights ``(N, T, S)``."""
        if self.kind == "bahdanau":
            # (N, T, 1, A) + (N, 1, S, A) -> (N, T, S, A) -> (N, T, S)
            hidden = torch.tanh(self.query(query)[:, :, None] + memory.keys[:, None])
            scores = self.v(hidden).squeeze(-1)
        else:
            scores = query @ memory.keys.transpose(1, 2)  # (N, T, K) @ (N, K, S) -> (N, T, S)
        scores = scores.masked_fill(~memory.mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ memory.values, weights  # (N, T, S) @ (N, S, M) -> (N, T, M)
