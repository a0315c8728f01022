"""``CharLM``: a recurrent character (or token) language model with sampling."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqmodels.build import build_recurrent
from seqmodels.cells import State
from seqmodels.models.embedding import check_embedding_dropout, embed_tokens
from seqmodels.models.heads import dropout_between_layers, evaluating


class CharLM(nn.Module):
    r"""Predicts the next token at every step: embedding (or one-hot) -> recurrent layers ->
    vocabulary logits.

    .. math::
        p(x_{t+1} \mid x_{\le t}) = \mathrm{softmax}(W h_t + b)

    ``forward`` takes and returns the recurrent state, so a long stream can be read in
    consecutive windows (truncated BPTT) and :meth:`generate` costs one step per new token.

    Args:
        vocab_size: number of token ids (characters).
        embedding_dim: size of the learned embedding; None feeds one-hot vectors instead.
        cell: a cell for :func:`seqmodels.build_recurrent` (``"lstm"``, ``"mingru"``, ...).
        hidden_size: hidden size of each recurrent layer.
        num_layers: number of stacked recurrent layers.
        dropout: dropout on the embeddings, between recurrent layers and before the output layer.
        tie_weights: share the embedding matrix with the output layer (Press & Wolf, 2017); needs
            ``embedding_dim == hidden_size``.
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"``, see
            :func:`seqmodels.build_recurrent`.
        embedding_dropout: drops whole rows of the embedding matrix in training (every
            occurrence of a dropped token reads zeros; one mask per forward, the kept rows scaled
            by :math:`1/(1-p)`), as AWD-LSTM does (Merity et al., 2018). Needs an embedding.
        recurrent_dropout, weight_drop, zoneout: the recurrent layers' regularisers, see
            :class:`seqmodels.Recurrent` (not with ``impl="torch"``).

    Shape:
        - tokens: :math:`(N, L)` token ids.
        - state: the recurrent state, :math:`(\text{num\_layers}, N, H)` (a pair for LSTMs), or
          None for zeros.
        - output: logits :math:`(N, L, V)` and the final state.

    Example::

        >>> model = CharLM(vocab_size=65, embedding_dim=32, hidden_size=64)
        >>> logits, state = model(torch.randint(0, 65, (8, 100)))
        >>> logits.shape
        torch.Size([8, 100, 65])
        >>> model.generate(torch.tensor([0, 1, 2]), max_new_tokens=5).shape
        torch.Size([5])
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int | None = 64,
        cell: str = "lstm",
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_weights: bool = False,
        impl: str = "auto",
        embedding_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding_dropout = check_embedding_dropout(embedding_dropout, embedding_dim)
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(
                f"tie_weights needs embedding_dim == hidden_size, got embedding_dim={embedding_dim}"
                f" and hidden_size={hidden_size}"
            )
        self.vocab_size = vocab_size
        self.embedding = None if embedding_dim is None else nn.Embedding(vocab_size, embedding_dim)
        self.rnn = build_recurrent(
            cell,
            embedding_dim or vocab_size,
            hidden_size,
            num_layers,
            dropout=dropout_between_layers(dropout, num_layers),
            impl=impl,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (N, L) token ids, got shape {tuple(tokens.shape)}")
        x = embed_tokens(
            tokens, self.embedding, self.vocab_size, self.head.weight.dtype,
            self.embedding_dropout, self.training,
        )  # (N, L, E)  # fmt: skip
        output, state = self.rnn(self.dropout(x), state)  # (N, L, H)
        return self.head(self.dropout(output)), state

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Samples ``max_new_tokens`` tokens after the prompt.

        The prompt is read in one call; then each new token is one recurrent step from the
        carried state. Sampling is from ``softmax(logits / temperature)``, restricted to the
        ``top_k`` most likely tokens if given (``top_k=1`` is greedy). Pass a seeded
        ``generator`` for reproducible samples. The model is in eval mode while sampling.

        Args:
            prompt_ids: ``(L,)`` or ``(N, L)`` token ids, ``L >= 1``.

        Returns:
            the new tokens only, ``(max_new_tokens,)`` or ``(N, max_new_tokens)``.
        """
        if prompt_ids.dim() not in (1, 2) or prompt_ids.shape[-1] == 0:
            raise ValueError(
                "prompt_ids must be (L,) or (N, L) with L >= 1, got shape "
                f"{tuple(prompt_ids.shape)}"
            )
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature} (use top_k=1 for greedy)")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
        tokens = prompt_ids if prompt_ids.dim() == 2 else prompt_ids[None]  # (N, L)
        new = []
        with evaluating(self):
            logits, state = self(tokens)
            for step in range(max_new_tokens):
                scores = logits[:, -1] / temperature  # (N, V)
                if top_k is not None and top_k < scores.shape[-1]:
                    kth = scores.topk(top_k, dim=-1).values[:, -1:]  # (N, 1)
                    scores = scores.masked_fill(scores < kth, float("-inf"))
                probs = scores.softmax(-1)
                new.append(torch.multinomial(probs, 1, generator=generator))  # (N, 1)
                if step + 1 < max_new_tokens:
                    logits, state = self(new[-1], state)
        out = torch.cat(new, dim=1) if new else tokens[:, :0]  # (N, max_new_tokens)
        return out if prompt_ids.dim() == 2 else out[0]
