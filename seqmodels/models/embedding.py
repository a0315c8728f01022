"""Token inputs of the heads: a learned embedding (with row dropout) or one-hot vectors."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqmodels.recurrent import check_probability


def check_embedding_dropout(embedding_dropout: float, embedding_dim: int | None) -> float:
    """``embedding_dropout`` as a float, after checking it is a probability and has an
    embedding to act on."""
    check_probability("embedding_dropout", embedding_dropout)
    if embedding_dropout and embedding_dim is None:
        raise ValueError(
            f"embedding_dropout={embedding_dropout} needs an embedding, got embedding_dim=None "
            "(one-hot input)"
        )
    return float(embedding_dropout)


def embed_tokens(
    tokens: Tensor,
    embedding: nn.Embedding | None,
    vocab_size: int,
    dtype: torch.dtype,
    embedding_dropout: float = 0.0,
    training: bool = False,
) -> Tensor:
    r"""Token ids ``(N, L)`` to vectors ``(N, L, E)``: ``embedding``, or one-hot vectors of size
    ``vocab_size`` (in ``dtype``) when it is None.

    ``embedding_dropout`` drops whole rows of the embedding matrix in training (every occurrence
    of a dropped token reads zeros; one mask per forward, kept rows scaled by :math:`1/(1-p)`),
    as AWD-LSTM does (Merity et al., 2018).

    Example::

        >>> embed_tokens(torch.tensor([[1, 2]]), nn.Embedding(5, 3), 5, torch.float32).shape
        torch.Size([1, 2, 3])
    """
    if embedding is None:
        return F.one_hot(tokens, vocab_size).to(dtype)
    weight = embedding.weight  # (V, E)
    if training and embedding_dropout > 0:  # whole rows: a (V, 1) mask
        weight = weight * F.dropout(weight.new_ones(weight.size(0), 1), embedding_dropout)
    return F.embedding(tokens, weight, embedding.padding_idx)
