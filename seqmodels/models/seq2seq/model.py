"""The encoder-decoder: :class:`Encoder`, :class:`Bridge`, :class:`Decoder` and :class:`Seq2Seq`.

Built from seqmodels' own recurrent layers (:func:`seqmodels.build_recurrent`), so any cell,
number of layers, dropout and a bidirectional encoder with any merge mode can be used.

Shapes: ``N`` batch size, ``S`` source length, ``T`` target length, ``E`` embedding size, ``H``
hidden size, ``M`` encoder output ("memory") size, ``V`` vocabulary size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from seqmodels.build import build_recurrent, recurrent_output_size
from seqmodels.cells import State
from seqmodels.models.heads import (
    dropout_between_layers,
    final_hidden,
    merge_layer_directions,
    run_padded,
)
from seqmodels.models.seq2seq import decoding
from seqmodels.models.seq2seq.attention import ATTENTIONS, Attention, Memory
from seqmodels.models.seq2seq.decoding import Generation
from seqmodels.registry import resolve_cell

__all__ = ["Bridge", "Decoder", "DecoderState", "Encoder", "Seq2Seq"]


class Encoder(nn.Module):
    """Embedding followed by a (possibly bidirectional, multi-layer) recurrent layer.

    Source padding is skipped (the layer reads each sequence up to its length), so final states
    are those of the last valid token and outputs at padded positions are 0.

    Args:
        vocab_size: number of source tokens.
        embedding_dim: embedding size ``E``.
        hidden_size: hidden size ``H`` of each direction.
        num_layers: recurrent layers.
        cell: a cell for :func:`seqmodels.build_recurrent` (``"lstm"``, ``"gru"``, ...).
        dropout: dropout on embeddings and between recurrent layers.
        bidirectional: run a backward layer too.
        merge: how a bidirectional layer merges both directions' outputs
            (``"concat"``, ``"sum"``, ``"mean"``, ``"max"``, ``"mul"``).
        pad_id: padding id (its embedding is kept at 0).
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"``, see
            :func:`seqmodels.build_recurrent`.

    Shape:
        - src: ``(N, S)`` token ids; lengths: ``(N,)``
        - outputs: ``(N, S, M)`` with ``M = output_size`` (``2H`` for ``"concat"``, else ``H``)
        - state: ``(D * num_layers, N, H)``, a tuple ``(h, c)`` for LSTM cells

    Example:
        >>> enc = Encoder(10, embedding_dim=4, hidden_size=8, cell="gru", bidirectional=True)
        >>> outputs, h = enc(torch.randint(3, 10, (2, 5)), torch.tensor([5, 2]))
        >>> outputs.shape, h.shape
        (torch.Size([2, 5, 16]), torch.Size([2, 2, 8]))
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
        pad_id: int = 0,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        self.rnn = build_recurrent(
            cell, embedding_dim, hidden_size, num_layers,
            dropout_between_layers(dropout, num_layers), bidirectional, merge, impl=impl,
        )  # fmt: skip
        self.output_size = recurrent_output_size(hidden_size, bidirectional, merge)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, State]:
        embedded = self.dropout(self.embedding(src))  # (N, S, E)
        return run_padded(self.rnn, embedded, lengths)


class Bridge(nn.Module):
    r"""Maps a bidirectional encoder's final states to a decoder's initial state.

    Per layer, both directions' final states are concatenated and projected:
    :math:`s_0^{(l)} = \tanh(W [h_{fwd}^{(l)}; h_{bwd}^{(l)}] + b)`, separately for ``h`` and ``c``
    of an LSTM.

    Shape:
        - state: ``(2 * num_layers, N, H_enc)`` (torch's layout: index ``2 * layer + direction``)
        - output: ``(num_layers, N, H_dec)``
    """

    def __init__(self, encoder_hidden: int, decoder_hidden: int, num_states: int = 1) -> None:
        super().__init__()
        self.projections = nn.ModuleList(
            nn.Linear(2 * encoder_hidden, decoder_hidden) for _ in range(num_states)
        )

    def forward(self, state: State) -> State:
        states = state if isinstance(state, tuple) else (state,)
        # (2L, N, H) -> (L, N, 2H) -> (L, N, H_dec)
        mapped = tuple(
            torch.tanh(projection(merge_layer_directions(s, "concat")))
            for s, projection in zip(states, self.projections, strict=True)
        )
        return mapped if isinstance(state, tuple) else mapped[0]


class Decoder(nn.Module):
    r"""Embedding → recurrent layer → attention → output projection, one token at a time.

    * ``attention="none"``: :math:`\mathrm{logits}_t = W_o s_t`.
    * ``attention="luong_dot"`` or ``"luong_general"``: the recurrent step first, then
      :math:`s_t` attends over the encoder outputs (see :class:`Attention` for the scores):
      :math:`\tilde s_t = \tanh(W_c [s_t; c_t])`, :math:`\mathrm{logits}_t = W_o \tilde s_t`.
    * ``attention="bahdanau"``: the *previous* state :math:`s_{t-1}` attends first (additive
      score) and the context is fed to the recurrent step with the embedding:
      :math:`s_t = f([y_{t-1}; c_t], s_{t-1})`, then :math:`\tilde s_t = \tanh(W_c [s_t; c_t])`
      as above.

    Args:
        vocab_size: number of target tokens ``V``.
        embedding_dim: embedding size.
        hidden_size: recurrent hidden size ``H``.
        memory_size: encoder output size ``M`` (ignored without attention).
        num_layers: recurrent layers.
        cell: a cell for :func:`seqmodels.build_recurrent`.
        dropout: dropout on embeddings, between layers and before the output projection.
        attention: ``"none"``, ``"bahdanau"``, ``"luong_dot"`` or ``"luong_general"``.
        pad_id: padding id.
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"``, see
            :func:`seqmodels.build_recurrent`.

    Shape:
        - tokens: ``(N, T)`` input ids (``<sos>`` then the shifted target)
        - state: ``(num_layers, N, H)`` (tuple for LSTMs)
        - logits: ``(N, T, V)``; attention weights: ``(N, T, S)`` or None
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        memory_size: int,
        num_layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        attention: str = "luong_general",
        pad_id: int = 0,
        impl: str = "auto",
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            names = ", ".join(map(repr, ATTENTIONS))
            raise ValueError(f"attention must be one of {names}, got {attention!r}")
        self.attend_first = attention == "bahdanau"  # attention feeds the recurrent step
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        rnn_input = embedding_dim + (memory_size if self.attend_first else 0)
        self.rnn = build_recurrent(
            cell, rnn_input, hidden_size, num_layers, dropout_between_layers(dropout, num_layers),
            impl=impl,
        )  # fmt: skip
        if attention == "none":
            self.attention = None
        else:
            self.attention = Attention(attention, hidden_size, memory_size)
            self.combine = nn.Linear(hidden_size + memory_size, hidden_size)
        self.out = nn.Linear(hidden_size, vocab_size)

    def memory(self, values: Tensor, lengths: Tensor) -> Memory | None:
        """Precompute what attention needs from encoder outputs ``(N, S, M)``; None without."""
        return None if self.attention is None else self.attention.memory(values, lengths)

    def _project(self, outputs: Tensor, context: Tensor | None) -> Tensor:
        if context is not None:
            outputs = torch.tanh(self.combine(torch.cat([outputs, context], dim=-1)))
        return self.out(self.dropout(outputs))

    def step(
        self, tokens: Tensor, state: State, memory: Memory | None
    ) -> tuple[Tensor, State, Tensor | None]:
        """One step from ``tokens`` ``(N,)``: logits ``(N, V)``, new state, weights ``(N, S)``."""
        logits, state, weights = self._run(tokens[:, None], state, memory)  # T = 1
        return logits[:, 0], state, None if weights is None else weights[:, 0]

    def forward(
        self, tokens: Tensor, state: State, memory: Memory | None
    ) -> tuple[Tensor, State, Tensor | None]:
        if self.attend_first:  # the recurrent input needs the previous context: step by step
            logits, weights = [], []
            for token in tokens.unbind(1):
                step_logits, state, step_weights = self.step(token, state, memory)
                logits.append(step_logits)
                weights.append(step_weights)
            return torch.stack(logits, dim=1), state, torch.stack(weights, dim=1)
        return self._run(tokens, state, memory)

    def _run(
        self, tokens: Tensor, state: State, memory: Memory | None
    ) -> tuple[Tensor, State, Tensor | None]:
        embedded = self.dropout(self.embedding(tokens))  # (N, T, E)
        if self.attention is None:
            outputs, state = self.rnn(embedded, state)
            return self._project(outputs, None), state, None
        if self.attend_first:  # T == 1: attend from the previous top state
            context, weights = self.attention(final_hidden(state)[:, None], memory)  # (N, 1, M)
            outputs, state = self.rnn(torch.cat([embedded, context], dim=-1), state)
        else:
            outputs, state = self.rnn(embedded, state)  # (N, T, H)
            context, weights = self.attention(outputs, memory)
        return self._project(outputs, context), state, weights


class DecoderState(NamedTuple):
    """What a decoding step carries: the decoder's recurrent state and the attention memory.

    Attributes:
        hidden: ``(num_layers, N, H)``, a tuple ``(h, c)`` for LSTM cells.
        memory: the encoder outputs prepared for attention, or None without attention.
    """

    hidden: State
    memory: Memory | None

    def index_select(self, index: Tensor) -> DecoderState:
        """The sequences (rows) ``index``, to repeat or reorder beam-search hypotheses."""
        hidden = self.hidden if isinstance(self.hidden, tuple) else (self.hidden,)
        selected = tuple(h.index_select(1, index) for h in hidden)  # batch is dim 1
        return DecoderState(
            selected if isinstance(self.hidden, tuple) else selected[0],
            None if self.memory is None else self.memory.index_select(index),
        )


class Seq2Seq(nn.Module):
    r"""Recurrent encoder-decoder with optional attention, greedy and beam-search decoding.

    The target given to :meth:`forward` holds the tokens to predict (``y_1 .. y_n <eos>``, then
    padding, without ``<sos>``); the decoder reads ``<sos> y_1 .. y_n`` and the logits at position
    ``t`` predict ``tgt[:, t]``, so the training loss is
    ``cross_entropy(logits.transpose(1, 2), tgt, ignore_index=pad_id)``. Encoder and decoder share
    cell, hidden size and number of layers; a bidirectional encoder's final states go through a
    :class:`Bridge`. Decoding (:meth:`generate`) runs the searches of
    :mod:`~seqmodels.models.seq2seq.decoding` over :meth:`step`.

    Args:
        src_vocab_size: source vocabulary size.
        tgt_vocab_size: target vocabulary size.
        pad_id, sos_id, eos_id: special ids (shared by both vocabularies).
        embedding_dim: embedding size (encoder and decoder).
        hidden_size: recurrent hidden size (each encoder direction, and the decoder).
        num_layers: recurrent layers in encoder and decoder.
        cell: a cell for :func:`seqmodels.build_recurrent` (``"lstm"``, ``"gru"``, ...).
        dropout: dropout probability.
        bidirectional: bidirectional encoder.
        merge: merge mode of a bidirectional encoder.
        attention: ``"none"``, ``"bahdanau"``, ``"luong_dot"`` or ``"luong_general"`` (see
            :class:`Decoder` and :class:`Attention`).
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"``, see
            :func:`seqmodels.build_recurrent`.

    Example:
        >>> model = Seq2Seq(12, 12, embedding_dim=8, hidden_size=16, attention="bahdanau")
        >>> src, lengths = torch.randint(3, 12, (2, 6)), torch.tensor([6, 4])
        >>> model(src, lengths, torch.randint(3, 12, (2, 5))).shape
        torch.Size([2, 5, 12])
        >>> out = model.generate(src, lengths, max_len=7, beam_size=3)
        >>> out.tokens.shape[0], out.scores.shape, out.attention.shape[-1]
        (2, torch.Size([2]), 6)
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        pad_id: int = 0,
        sos_id: int = 1,
        eos_id: int = 2,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "gru",
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
        attention: str = "luong_general",
        impl: str = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("pad_id", pad_id), ("sos_id", sos_id), ("eos_id", eos_id)):
            if not 0 <= value < tgt_vocab_size:
                raise ValueError(
                    f"{name}={value} is outside the target vocabulary [0, {tgt_vocab_size})"
                )
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.pad_id, self.sos_id, self.eos_id = pad_id, sos_id, eos_id
        self.encoder = Encoder(
            src_vocab_size, embedding_dim, hidden_size, num_layers, cell, dropout,
            bidirectional, merge, pad_id, impl,
        )  # fmt: skip
        num_states = resolve_cell(cell).num_states  # the encoder has checked the name
        self.bridge = Bridge(hidden_size, hidden_size, num_states) if bidirectional else None
        self.decoder = Decoder(
            tgt_vocab_size, embedding_dim, hidden_size, self.encoder.output_size, num_layers,
            cell, dropout, attention, pad_id, impl,
        )  # fmt: skip

    def _check_ids(self, name: str, ids: Tensor, vocab_size: int) -> None:
        if ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(
                f"{name} token ids must lie in [0, {vocab_size}), got values in "
                f"[{ids.min().item()}, {ids.max().item()}]"
            )

    def _check_source(self, src: Tensor, src_lengths: Tensor) -> None:
        if src.dim() != 2:
            raise ValueError(f"src must have shape (N, S), got {tuple(src.shape)}")
        if src_lengths.shape != (src.size(0),):
            raise ValueError(
                f"src_lengths must have shape (N,) = ({src.size(0)},) to match src of shape "
                f"{tuple(src.shape)}, got {tuple(src_lengths.shape)}"
            )
        if src.size(1) == 0 or (src_lengths < 1).any():
            raise ValueError(
                f"empty source: every src_lengths entry must be >= 1, got {src_lengths.tolist()} "
                f"for src of shape {tuple(src.shape)}"
            )
        if src_lengths.max() > src.size(1):
            raise ValueError(
                f"src_lengths max {src_lengths.max().item()} exceeds src length {src.size(1)} "
                f"(src of shape {tuple(src.shape)})"
            )
        self._check_ids("src", src, self.src_vocab_size)

    def encode(self, src: Tensor, src_lengths: Tensor) -> DecoderState:
        """Run the encoder: the decoder's initial state and the attention memory."""
        self._check_source(src, src_lengths)
        outputs, state = self.encoder(src, src_lengths)
        if self.bridge is not None:
            state = self.bridge(state)
        return DecoderState(state, self.decoder.memory(outputs, src_lengths))

    def step(
        self, tokens: Tensor, state: DecoderState
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """One decoding step (the step of :mod:`~seqmodels.models.seq2seq.decoding`): from the
        previous tokens ``(N,)``, next-token log-probabilities ``(N, V)``, the new state and
        the attention weights ``(N, S)`` (None without attention)."""
        logits, hidden, weights = self.decoder.step(tokens, state.hidden, state.memory)
        return logits.log_softmax(-1), DecoderState(hidden, state.memory), weights

    def forward(
        self, src: Tensor, src_lengths: Tensor, tgt: Tensor, teacher_forcing: float = 1.0
    ) -> Tensor:
        """Logits ``(N, T, V)`` for target ``tgt`` ``(N, T)`` given source ``src`` ``(N, S)``.

        With ``teacher_forcing < 1`` each step feeds, per sequence and with that probability, the
        true previous token, and otherwise the model's own greedy prediction.
        """
        state, memory = self.encode(src, src_lengths)
        if tgt.dim() != 2 or tgt.size(0) != src.size(0):
            raise ValueError(
                f"tgt must have shape (N, T) with N = {src.size(0)} like src, "
                f"got {tuple(tgt.shape)}"
            )
        self._check_ids("tgt", tgt, self.tgt_vocab_size)
        sos = torch.full_like(tgt[:, :1], self.sos_id)
        inputs = torch.cat([sos, tgt[:, :-1]], dim=1)  # (N, T): <sos> y_1 .. y_{T-1}
        if teacher_forcing >= 1.0:
            return self.decoder(inputs, state, memory)[0]
        token, logits = inputs[:, 0], []
        for t in range(tgt.size(1)):
            step_logits, state, _ = self.decoder.step(token, state, memory)
            logits.append(step_logits)
            if t + 1 < tgt.size(1):
                forced = torch.rand(token.shape, device=token.device) < teacher_forcing
                token = torch.where(forced, inputs[:, t + 1], step_logits.argmax(-1))
        return torch.stack(logits, dim=1)

    def generate(
        self,
        src: Tensor,
        src_lengths: Tensor,
        max_len: int = 50,
        beam_size: int = 1,
        length_penalty: float = 1.0,
    ) -> Generation:
        """Decode ``src`` ``(N, S)``: :meth:`greedy_search` if ``beam_size == 1``, else
        :meth:`beam_search`."""
        if beam_size == 1:
            return self.greedy_search(src, src_lengths, max_len)
        return self.beam_search(src, src_lengths, max_len, beam_size, length_penalty)

    def _start(self, src: Tensor, src_lengths: Tensor, max_len: int) -> tuple[DecoderState, Tensor]:
        """The encoded source and the first decoder inputs ``(N,)`` (``<sos>``)."""
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        state = self.encode(src, src_lengths)
        device = self.decoder.out.weight.device
        return state, torch.full((src.size(0),), self.sos_id, dtype=torch.long, device=device)

    @torch.no_grad()
    def greedy_search(self, src: Tensor, src_lengths: Tensor, max_len: int = 50) -> Generation:
        """:func:`~seqmodels.models.seq2seq.decoding.greedy_search`: feed back the most likely
        token at each step until every sequence has ``<eos>``."""
        state, start = self._start(src, src_lengths, max_len)
        return decoding.greedy_search(self.step, state, start, self.eos_id, self.pad_id, max_len)

    @torch.no_grad()
    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor,
        max_len: int = 50,
        beam_size: int = 4,
        length_penalty: float = 1.0,
    ) -> Generation:
        r""":func:`~seqmodels.models.seq2seq.decoding.beam_search`: keep the ``beam_size`` best
        partial outputs, return the best by :math:`\log p(y) / |y|^{\alpha}`,
        :math:`\alpha` = ``length_penalty``."""
        if not 1 <= beam_size <= self.tgt_vocab_size:
            raise ValueError(
                f"beam_size must lie in [1, {self.tgt_vocab_size}] (target vocabulary size), "
                f"got {beam_size}"
            )
        state, start = self._start(src, src_lengths, max_len)
        return decoding.beam_search(
            self.step, state, start, self.eos_id, self.pad_id, max_len, beam_size, length_penalty
        )
