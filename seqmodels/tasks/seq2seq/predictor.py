r"""Sequence-to-sequence's predictor: :class:`Translator`, from a checkpoint with torch only.

No Lightning, no Hydra: this module imports neither, nor the task's LightningModule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqmodels.models.heads import evaluating
from seqmodels.models.seq2seq import Seq2Seq
from seqmodels.models.spec import load_checkpoint
from seqmodels.preprocessing import EOS, PAD, Vocabulary, normalize

LEVELS = ("char", "word")

__all__ = ["Translator"]


class Translator:
    r"""Decodes raw texts with a sequence-to-sequence model.

    Texts are split as in training: ``level="word"`` normalises them
    (:func:`seqmodels.preprocessing.normalize`) and splits at spaces, ``"char"`` takes characters.
    Source tokens the model never saw become ``<unk>``. Outputs stop at ``<eos>`` and are joined
    back with spaces (words) or nothing (characters).

    Args:
        model: a :class:`~seqmodels.models.Seq2Seq`.
        src_vocab, tgt_vocab: its vocabularies, id -> token.
        level: ``"char"`` or ``"word"``.
        beam_size: beam width (1: greedy).
        length_penalty: exponent :math:`\alpha` of the beam's length normalisation.
        max_len: most tokens decoded per output.

    Example::

        >>> translator = Translator.from_checkpoint("best.ckpt")  # doctest: +SKIP
        >>> translator.translate(["je suis fatigue ."], beam_size=4)  # doctest: +SKIP
        ['i m tired .']
    """

    def __init__(
        self,
        model: Seq2Seq,
        src_vocab: Vocabulary,
        tgt_vocab: Vocabulary,
        level: str = "word",
        beam_size: int = 1,
        length_penalty: float = 1.0,
        max_len: int = 50,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        for name, vocab, size in (
            ("src_vocab", src_vocab, model.src_vocab_size),
            ("tgt_vocab", tgt_vocab, model.tgt_vocab_size),
        ):
            if len(vocab) != size:
                raise ValueError(f"{name} has {len(vocab)} tokens but the model expects {size}")
        self.model, self.src_vocab, self.tgt_vocab, self.level = model, src_vocab, tgt_vocab, level
        self.beam_size, self.length_penalty, self.max_len = beam_size, length_penalty, max_len

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> Translator:
        """The translator of a :class:`~seqmodels.tasks.seq2seq.Seq2SeqTask` checkpoint, with its
        decoding settings (``level``, ``beam_size``, ``length_penalty``, ``max_len``).

        Raises:
            seqmodels.models.spec.CheckpointMismatch: the checkpoint's model is not a
                :class:`~seqmodels.models.Seq2Seq`; the message names its experiment.
        """
        model, hparams = load_checkpoint(path, map_location, Seq2Seq)
        settings = {
            name: hparams[name]
            for name in ("level", "beam_size", "length_penalty", "max_len")
            if name in hparams
        }
        vocabs = (Vocabulary(hparams["src_vocab"]), Vocabulary(hparams["tgt_vocab"]))
        return cls(model, *vocabs, **settings)

    def tokenize(self, text: str) -> list[str]:
        """Source tokens of ``text``: normalised words, or characters."""
        return normalize(text).split() if self.level == "word" else list(text)

    def detokenize(self, ids: Tensor | Sequence[int]) -> list[str]:
        """Target tokens of ``ids`` up to (without) ``<eos>``, padding dropped."""
        tokens = []
        for token in self.tgt_vocab.decode(ids):
            if token == EOS:
                break
            if token != PAD:
                tokens.append(token)
        return tokens

    def join(self, tokens: Sequence[str]) -> str:
        """Tokens as text: words joined by spaces, characters by nothing."""
        return (" " if self.level == "word" else "").join(tokens)

    def translate(
        self, texts: Sequence[str], beam_size: int | None = None, max_len: int | None = None
    ) -> list[str]:
        """The decoded output of each text (``beam_size`` and ``max_len`` default to the
        translator's).

        Raises:
            ValueError: a text without any token.
        """
        ids = []
        for text in texts:
            tokens = self.tokenize(text)
            if not tokens:
                raise ValueError(f"cannot translate a text without any token: {text!r}")
            ids.append(torch.tensor(self.src_vocab.encode(tokens)))
        lengths = torch.tensor([len(i) for i in ids])
        src = nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=self.model.pad_id)
        with evaluating(self.model):  # the searches run without gradients
            out = self.model.generate(
                src.to(next(self.model.parameters()).device),  # (N, S)
                lengths,
                max_len=max_len or self.max_len,
                beam_size=beam_size or self.beam_size,
                length_penalty=self.length_penalty,
            )
        return [self.join(self.detokenize(row)) for row in out.tokens.tolist()]
