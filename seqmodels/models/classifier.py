"""``SequenceClassifier``: a many-to-one recurrent text classifier."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqmodels.build import build_recurrent, recurrent_output_size
from seqmodels.models.embedding import check_embedding_dropout, embed_tokens
from seqmodels.models.heads import dropout_between_layers, final_hidden, run_padded

POOLINGS = ("last", "mean", "max")


class SequenceClassifier(nn.Module):
    r"""Token ids in, class logits out: embedding (or one-hot) -> recurrent encoder -> pooling
    -> linear head.

    The encoder reads only the valid steps of each sequence (its layers get ``lengths``, see
    :func:`~seqmodels.models.heads.run_padded`), and pooling ignores padding:

    * ``"last"``: the top layer's final hidden state :math:`h_{\mathrm{len}}` (for a
      bidirectional encoder, the forward state after the last valid token and the backward state
      after the first, merged as the encoder's outputs are);
    * ``"mean"``: :math:`\frac{1}{\mathrm{len}} \sum_{t < \mathrm{len}} y_t`;
    * ``"max"``: :math:`\max_{t < \mathrm{len}} y_t` (featurewise).

    Args:
        vocab_size: number of token ids.
        num_classes: number of classes.
        embedding_dim: size of the learned token embedding; None feeds one-hot vectors of size
            ``vocab_size`` instead (the classic from-scratch RNN).
        cell: a cell for :func:`seqmodels.build_recurrent` (``"lstm"``, ``"gru"``, ...).
        hidden_size: hidden size of each recurrent layer.
        num_layers: number of stacked recurrent layers.
        dropout: dropout on the embeddings, between recurrent layers and before the head.
        bidirectional: read the sequence both ways.
        merge: how the two directions combine: ``"concat"``, ``"sum"``, ``"mean"``, ``"max"``,
            ``"mul"``.
        pooling: ``"last"``, ``"mean"`` or ``"max"``.
        padding_idx: the padding token id (its embedding stays zero), or None.
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"``, see
            :func:`seqmodels.build_recurrent`.
        embedding_dropout: drops whole embedding rows in training (see
            :func:`~seqmodels.models.embedding.embed_tokens`).
        recurrent_dropout, weight_drop, zoneout: the recurrent layers' regularisers, see
            :class:`seqmodels.Recurrent` (not with ``impl="torch"``).

    Shape:
        - tokens: :math:`(N, L)` token ids.
        - lengths: :math:`(N,)` valid lengths, each in :math:`[1, L]`; None means all :math:`L`.
        - output: :math:`(N, C)` logits.

    Example::

        >>> model = SequenceClassifier(vocab_size=100, num_classes=2, cell="gru", pooling="max")
        >>> tokens, lengths = torch.randint(1, 100, (4, 9)), torch.tensor([9, 3, 5, 1])
        >>> model(tokens, lengths).shape
        torch.Size([4, 2])
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_dim: int | None = 128,
        cell: str = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
        pooling: str = "last",
        padding_idx: int | None = 0,
        impl: str = "auto",
        embedding_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__()
        self.embedding_dropout = check_embedding_dropout(embedding_dropout, embedding_dim)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.vocab_size, self.pooling = vocab_size, pooling
        self.bidirectional, self.merge = bidirectional, merge
        self.embedding = None
        if embedding_dim is not None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=padding_idx)
        self.encoder = build_recurrent(
            cell,
            embedding_dim or vocab_size,
            hidden_size,
            num_layers,
            dropout=dropout_between_layers(dropout, num_layers),
            bidirectional=bidirectional,
            merge=merge,
            impl=impl,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(recurrent_output_size(hidden_size, bidirectional, merge), num_classes)

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (N, L) token ids, got shape {tuple(tokens.shape)}")
        n, max_len = tokens.shape
        if lengths is not None and (
            lengths.shape != (n,) or lengths.min() < 1 or lengths.max() > max_len
        ):
            raise ValueError(
                f"lengths must be (N,) = ({n},) with values in [1, {max_len}], got shape "
                f"{tuple(lengths.shape)} and values {lengths.tolist()}"
            )
        x = embed_tokens(
            tokens, self.embedding, self.vocab_size, self.head.weight.dtype,
            self.embedding_dropout, self.training,
        )  # (N, L, E)  # fmt: skip
        x = self.dropout(x)
        # lengths None: every sequence is L long, read in one go (this path also exports)
        output, h_n = run_padded(self.encoder, x, lengths)  # (N, L, H')
        if self.pooling == "last":
            features = final_hidden(h_n, self.bidirectional, self.merge)
        elif lengths is None:
            features = output.mean(1) if self.pooling == "mean" else output.amax(1)
        else:
            valid = torch.arange(max_len, device=tokens.device) < lengths[:, None]  # (N, L)
            if self.pooling == "mean":
                features = (output * valid[..., None]).sum(1) / lengths[:, None].to(output.dtype)
            else:
                features = output.masked_fill(~valid[..., None], float("-inf")).amax(1)
        return self.head(self.dropout(features))
