"""Encoder-decoder (seq2seq) models with attention, greedy and beam-search decoding.

Built from seqmodels' own recurrent layers (:func:`seqmodels.build_recurrent`), so any cell,
number of layers, dropout and a bidirectional encoder with any merge mode can be used.

Shapes used below: ``N`` batch size, ``S`` source length, ``T`` target length, ``E`` embedding
size, ``H`` hidden size, ``M`` encoder output ("memory") size, ``V`` vocabulary size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqmodels.build import CELLS, build_recurrent, recurrent_output_size

State = Tensor | tuple[Tensor, ...]

ATTENTIONS = ("none", "bahdanau", "luong")
SCORES = ("dot", "general")


def _select(state: State, index: Tensor) -> State:
    """Rows ``index`` of a ``(num_layers, N, H)`` state (each tensor of an LSTM's ``(h, c)``)."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


def _lengths(tokens: Tensor, eos_id: int) -> Tensor:
    """Length of each row of ``tokens`` ``(N, L)`` up to and including its first ``eos_id``."""
    is_eos = tokens == eos_id
    first = is_eos.int().argmax(1)  # index of the first <eos> (0 when there is none)
    return torch.where(is_eos.any(1), first + 1, torch.full_like(first, tokens.size(1)))


def _top_hidden(state: State) -> Tensor:
    """Last layer's hidden state ``(N, H)`` of a ``(num_layers, N, H)`` state (``h`` for LSTMs)."""
    return (state[0] if isinstance(state, tuple) else state)[-1]


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
        return Memory(*(t.index_select(0, index) for t in self))


class Generation(NamedTuple):
    """Output of :meth:`Seq2Seq.generate`.

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


class Attention(nn.Module):
    r"""Attention over encoder outputs with padding masked out.

    For a decoder query :math:`q` and encoder outputs :math:`m_j` the weights are
    :math:`a_j = \mathrm{softmax}_j(e_j)` over valid positions only (exactly 0 on padding) and the
    context is :math:`c = \sum_j a_j m_j`, with the score :math:`e_j`

    * ``"bahdanau"`` (additive): :math:`v^\top \tanh(W_q q + W_k m_j)`
    * ``"dot"`` (Luong): :math:`q^\top m_j` (needs ``query_size == memory_size``)
    * ``"general"`` (Luong): :math:`q^\top W m_j`

    Args:
        score: ``"bahdanau"``, ``"dot"`` or ``"general"``.
        query_size: size of the decoder state used as query.
        memory_size: size of the encoder outputs.
        attention_size: hidden size of the additive score (``"bahdanau"`` only); defaults to
            ``query_size``.

    Example:
        >>> attn = Attention("general", query_size=8, memory_size=6)
        >>> memory = attn.memory(torch.randn(2, 5, 6), torch.tensor([5, 3]))
        >>> context, weights = attn(torch.randn(2, 4, 8), memory)
        >>> context.shape, weights.shape
        (torch.Size([2, 4, 6]), torch.Size([2, 4, 5]))
    """

    def __init__(
        self, score: str, query_size: int, memory_size: int, attention_size: int | None = None
    ) -> None:
        super().__init__()
        if score not in ("bahdanau", *SCORES):
            raise ValueError(f"score must be one of 'bahdanau', 'dot', 'general', got {score!r}")
        if score == "dot" and query_size != memory_size:
            raise ValueError(
                f"dot attention needs decoder hidden_size == encoder output size, got "
                f"{query_size} and {memory_size} (use score='general', or merge='sum' for a "
                f"bidirectional encoder)"
            )
        self.score = score
        if score == "bahdanau":
            attention_size = attention_size or query_size
            self.key = nn.Linear(memory_size, attention_size, bias=False)
            self.query = nn.Linear(query_size, attention_size)
            self.v = nn.Linear(attention_size, 1, bias=False)
        elif score == "general":
            self.key = nn.Linear(memory_size, query_size, bias=False)

    def memory(self, values: Tensor, lengths: Tensor) -> Memory:
        """Precompute keys and the padding mask for encoder outputs ``values`` ``(N, S, M)``."""
        keys = values if self.score == "dot" else self.key(values)
        positions = torch.arange(values.size(1), device=values.device)
        mask = positions[None, :] < lengths.to(values.device)[:, None]  # (N, S)
        return Memory(values, keys, mask)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` ``(N, T, Q)``: context ``(N, T, M)`` and weights ``(N, T, S)``."""
        if self.score == "bahdanau":
            # (N, T, 1, A) + (N, 1, S, A) -> (N, T, S, A) -> (N, T, S)
            hidden = torch.tanh(self.query(query)[:, :, None] + memory.keys[:, None])
            scores = self.v(hidden).squeeze(-1)
        else:
            scores = query @ memory.keys.transpose(1, 2)  # (N, T, K) @ (N, K, S) -> (N, T, S)
        scores = scores.masked_fill(~memory.mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return weights @ memory.values, weights  # (N, T, S) @ (N, S, M) -> (N, T, M)


class Encoder(nn.Module):
    """Embedding followed by a (possibly bidirectional, multi-layer) recurrent layer.

    Source padding is skipped by packing the sequences, so final states are those of the last
    valid token and outputs at padded positions are 0.

    Args:
        vocab_size: number of source tokens.
        embedding_dim: embedding size ``E``.
        hidden_size: hidden size ``H`` of each direction.
        num_layers: recurrent layers.
        cell: a name of :data:`seqmodels.build.CELLS` (``"lstm"``, ``"gru"``, ...).
        dropout: dropout on embeddings and between recurrent layers.
        bidirectional: run a backward layer too.
        merge: how a bidirectional layer merges both directions' outputs
            (``"concat"``, ``"sum"``, ``"mean"``, ``"max"``, ``"mul"``).
        pad_id: padding id (its embedding is kept at 0).
        impl: ``"seqmodels"`` or ``"torch"`` recurrent layers.

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
        impl: str = "seqmodels",
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        between_layers = dropout if num_layers > 1 else 0.0
        self.rnn = build_recurrent(
            cell, embedding_dim, hidden_size, num_layers, between_layers, bidirectional, merge,
            impl=impl,
        )  # fmt: skip
        self.output_size = recurrent_output_size(hidden_size, bidirectional, merge)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, State]:
        embedded = self.dropout(self.embedding(src))  # (N, S, E)
        packed = pack_padded_sequence(
            embedded, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        outputs, state = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        return outputs, state


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

    def _project(self, state: Tensor, projection: nn.Linear) -> Tensor:
        layers2, n, h = state.shape
        # (2L, N, H) -> (L, 2, N, H) -> (L, N, 2, H) -> (L, N, 2H)
        both = state.view(layers2 // 2, 2, n, h).transpose(1, 2).reshape(layers2 // 2, n, 2 * h)
        return torch.tanh(projection(both))

    def forward(self, state: State) -> State:
        if isinstance(state, tuple):
            return tuple(self._project(s, p) for s, p in zip(state, self.projections, strict=True))
        return self._project(state, self.projections[0])


class Decoder(nn.Module):
    r"""Embedding → recurrent layer → attention → output projection, one token at a time.

    * ``attention="none"``: :math:`\mathrm{logits}_t = W_o s_t`.
    * ``attention="luong"``: the recurrent step first, then :math:`s_t` attends over the encoder
      outputs: :math:`\tilde s_t = \tanh(W_c [s_t; c_t])`,
      :math:`\mathrm{logits}_t = W_o \tilde s_t`.
    * ``attention="bahdanau"``: the *previous* state :math:`s_{t-1}` attends first and the context
      is fed to the recurrent step with the embedding: :math:`s_t = f([y_{t-1}; c_t], s_{t-1})`,
      then :math:`\tilde s_t = \tanh(W_c [s_t; c_t])` as above.

    Args:
        vocab_size: number of target tokens ``V``.
        embedding_dim: embedding size.
        hidden_size: recurrent hidden size ``H``.
        memory_size: encoder output size ``M`` (ignored without attention).
        num_layers: recurrent layers.
        cell: recurrent cell name (see :func:`seqmodels.build_recurrent`).
        dropout: dropout on embeddings, between layers and before the output projection.
        attention: ``"none"``, ``"bahdanau"`` or ``"luong"``.
        score: Luong score, ``"dot"`` or ``"general"``.
        pad_id: padding id.
        impl: ``"seqmodels"`` or ``"torch"`` recurrent layers.

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
        attention: str = "luong",
        score: str = "general",
        pad_id: int = 0,
        impl: str = "seqmodels",
    ) -> None:
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {attention!r}")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        self.attention_type = attention
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.dropout = nn.Dropout(dropout)
        rnn_input = embedding_dim + (memory_size if attention == "bahdanau" else 0)
        between_layers = dropout if num_layers > 1 else 0.0
        self.rnn = build_recurrent(
            cell, rnn_input, hidden_size, num_layers, between_layers, impl=impl
        )
        if attention == "none":
            self.attention = None
        else:
            kind = "bahdanau" if attention == "bahdanau" else score
            self.attention = Attention(kind, hidden_size, memory_size)
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
        if self.attention_type == "bahdanau":  # the recurrent input needs the previous context
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
        if self.attention_type == "bahdanau":  # T == 1: attend from the previous top state
            context, weights = self.attention(_top_hidden(state)[:, None], memory)  # (N, 1, M)
            outputs, state = self.rnn(torch.cat([embedded, context], dim=-1), state)
        else:
            outputs, state = self.rnn(embedded, state)  # (N, T, H)
            context, weights = self.attention(outputs, memory)
        return self._project(outputs, context), state, weights


class Seq2Seq(nn.Module):
    r"""Recurrent encoder-decoder with optional attention, greedy and beam-search decoding.

    The target given to :meth:`forward` holds the tokens to predict (``y_1 .. y_n <eos>``, then
    padding, without ``<sos>``); the decoder reads ``<sos> y_1 .. y_n`` and the logits at position
    ``t`` predict ``tgt[:, t]``, so the training loss is
    ``cross_entropy(logits.transpose(1, 2), tgt, ignore_index=pad_id)``. Encoder and decoder share
    cell, hidden size and number of layers; a bidirectional encoder's final states go through a
    :class:`Bridge`.

    Args:
        src_vocab_size: source vocabulary size.
        tgt_vocab_size: target vocabulary size.
        pad_id, sos_id, eos_id: special ids (shared by both vocabularies).
        embedding_dim: embedding size (encoder and decoder).
        hidden_size: recurrent hidden size (each encoder direction, and the decoder).
        num_layers: recurrent layers in encoder and decoder.
        cell: a name of :data:`seqmodels.build.CELLS` (``"lstm"``, ``"gru"``, ...).
        dropout: dropout probability.
        bidirectional: bidirectional encoder.
        merge: merge mode of a bidirectional encoder.
        attention: ``"none"``, ``"bahdanau"`` or ``"luong"``.
        score: Luong score, ``"dot"`` or ``"general"``.
        impl: ``"seqmodels"`` or ``"torch"`` recurrent layers.

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
        attention: str = "luong",
        score: str = "general",
        impl: str = "seqmodels",
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
        num_states = CELLS[cell].num_states  # the encoder has checked the name
        self.bridge = Bridge(hidden_size, hidden_size, num_states) if bidirectional else None
        self.decoder = Decoder(
            tgt_vocab_size, embedding_dim, hidden_size, self.encoder.output_size, num_layers,
            cell, dropout, attention, score, pad_id, impl,
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

    def _start(self, src: Tensor, src_lengths: Tensor, max_len: int) -> tuple[State, Memory | None]:
        if max_len < 1:
            raise ValueError(f"max_len must be >= 1, got {max_len}")
        return self.encode(src, src_lengths)

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[State, Memory | None]:
        """Run the encoder; returns the decoder's initial state and the attention memory."""
        self._check_source(src, src_lengths)
        outputs, state = self.encoder(src, src_lengths)
        if self.bridge is not None:
            state = self.bridge(state)
        return state, self.decoder.memory(outputs, src_lengths)

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

    @torch.no_grad()
    def greedy_search(self, src: Tensor, src_lengths: Tensor, max_len: int = 50) -> Generation:
        """Feed back the most likely token at each step until every sequence has ``<eos>``."""
        state, memory = self._start(src, src_lengths, max_len)
        n = src.size(0)
        device = self.decoder.out.weight.device
        token = torch.full((n,), self.sos_id, dtype=torch.long, device=device)
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        scores = torch.zeros(n, device=device)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.decoder.step(token, state, memory)
            log_probs = logits.log_softmax(-1)
            token = log_probs.argmax(-1).masked_fill(finished, self.pad_id)
            scores += log_probs.gather(1, token[:, None]).squeeze(1).masked_fill(finished, 0.0)
            tokens.append(token)
            weights.append(w)
            finished |= token == self.eos_id
            if finished.all():
                break
        tokens = torch.stack(tokens, dim=1)  # (N, L)
        attention = None if memory is None else torch.stack(weights, dim=1)  # (N, L, S)
        return Generation(tokens, _lengths(tokens, self.eos_id), scores, attention)

    @torch.no_grad()
    def beam_search(
        self,
        src: Tensor,
        src_lengths: Tensor,
        max_len: int = 50,
        beam_size: int = 4,
        length_penalty: float = 1.0,
    ) -> Generation:
        r"""Beam search over all sequences at once.

        Keeps the ``beam_size`` best partial outputs by total log-probability; a finished one
        (ending in ``<eos>``) stays in the beam with its score frozen. Stops when the whole beam
        is finished or after ``max_len`` tokens, and returns for each sequence the hypothesis with
        the best :math:`\log p(y) / |y|^{\alpha}`, :math:`\alpha` = ``length_penalty``
        (0 ranks by raw log-probability; larger values favour longer outputs).
        """
        if not 1 <= beam_size <= self.tgt_vocab_size:
            raise ValueError(
                f"beam_size must lie in [1, {self.tgt_vocab_size}] (target vocabulary size), "
                f"got {beam_size}"
            )
        state, memory = self._start(src, src_lengths, max_len)
        n, beam = src.size(0), beam_size
        device = self.decoder.out.weight.device
        vocab = self.tgt_vocab_size
        src_len = src.size(1)
        # every sequence becomes `beam` rows: row n * beam + b is hypothesis b of sequence n
        rows = torch.arange(n, device=device).repeat_interleave(beam)
        state = _select(state, rows)
        memory = None if memory is None else memory.index_select(rows)
        scores = torch.full((n, beam), float("-inf"), device=device)
        scores[:, 0] = 0.0  # start from one hypothesis so the first step does not repeat it
        # a finished hypothesis can only be continued by padding, at no cost
        after_eos = torch.full((vocab,), float("-inf"), device=device)
        after_eos[self.pad_id] = 0.0
        token = torch.full((n * beam,), self.sos_id, dtype=torch.long, device=device)
        finished = torch.zeros(n * beam, dtype=torch.bool, device=device)
        tokens = torch.empty(n * beam, 0, dtype=torch.long, device=device)
        weights = None if memory is None else torch.zeros(n * beam, 0, src_len, device=device)
        for _ in range(max_len):
            logits, state, w = self.decoder.step(token, state, memory)
            log_probs = torch.where(finished[:, None], after_eos, logits.log_softmax(-1))
            candidates = (scores.view(-1, 1) + log_probs).view(n, beam * vocab)
            scores, best = candidates.topk(beam, dim=1)  # (n, beam)
            parent = (torch.arange(n, device=device)[:, None] * beam + best // vocab).view(-1)
            token = (best % vocab).view(-1)
            state = _select(state, parent)
            tokens = torch.cat([tokens[parent], token[:, None]], dim=1)
            if weights is not None:  # (n * beam, t, S) -> (n * beam, t + 1, S)
                weights = torch.cat([weights[parent], w[parent, None]], dim=1)
            finished = finished[parent] | (token == self.eos_id)
            if finished.all():
                break
        lengths = _lengths(tokens, self.eos_id).view(n, beam)
        pick = (scores / lengths.float() ** length_penalty).argmax(1)  # (n,)
        chosen = torch.arange(n, device=device) * beam + pick
        return Generation(
            tokens[chosen],
            lengths.view(-1)[chosen],
            scores.gather(1, pick[:, None]).squeeze(1),
            None if weights is None else weights[chosen],
        )


__all__ = ["Attention", "Bridge", "Decoder", "Encoder", "Generation", "Memory", "Seq2Seq"]
