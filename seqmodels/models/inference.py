r"""Inference from a trained checkpoint with torch only: no Lightning, no Hydra.

A task checkpoint (a ``.ckpt`` written by Lightning) holds the model's spec dict and the data's
values (vocabularies, labels, text settings, the target's scaling) as plain hyperparameters, and
the weights under ``model.``. :func:`load_checkpoint` reads it with
``torch.load(weights_only=True)`` and rebuilds the model; the classes below wrap a model with what
it needs to read raw input and write readable output, and load from a checkpoint with
``from_checkpoint(path)``:

* :class:`TextGenerator` (a :class:`~seqmodels.models.CharLM`): ``generate(prompt, ...)``;
* :class:`Translator` (a :class:`~seqmodels.models.Seq2Seq`): ``translate(texts)``;
* :class:`TextClassifier` (a :class:`~seqmodels.models.SequenceClassifier`): ``predict(texts)``;
* :class:`Forecaster` (a :class:`~seqmodels.models.WindowForecaster`): ``forecast(window, steps)``.

The tasks' ``generate_text``, ``translate`` and ``predict`` call these classes, so a plain model
and its task give the same outputs.

Example::

    >>> generator = TextGenerator.from_checkpoint("last.ckpt")  # doctest: +SKIP
    >>> print(generator.generate("ROMEO:", 100, temperature=0.8))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqmodels.models.char_lm import CharLM
from seqmodels.models.classifier import SequenceClassifier
from seqmodels.models.forecaster import WindowForecaster
from seqmodels.models.heads import evaluating
from seqmodels.models.spec import build_model
from seqmodels.preprocessing import EOS, PAD, Scaler, Vocabulary, normalize, tokenize, truncate

if TYPE_CHECKING:
    from seqmodels.models.seq2seq import Seq2Seq

__all__ = [
    "Forecaster",
    "TextClassifier",
    "TextGenerator",
    "Translator",
    "load_checkpoint",
]

LEVELS = ("char", "word")


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a task checkpoint, in eval mode, and the task's hyperparameters.

    The checkpoint is read with ``torch.load(weights_only=True)`` (plain data only); the model is
    rebuilt from ``hyper_parameters["model"]`` (:func:`~seqmodels.models.spec.build_model`) and
    gets the weights stored under ``model.``.

    Example::

        >>> model, hparams = load_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> hparams["vocab"][:3]  # doctest: +SKIP
        [' ', 'e', 't']
    """
    saved = torch.load(path, map_location=map_location, weights_only=True)
    hparams = dict(saved["hyper_parameters"])
    model = build_model(hparams["model"])
    prefix = "model."
    weights = {
        k.removeprefix(prefix): v for k, v in saved["state_dict"].items() if k.startswith(prefix)
    }
    model.load_state_dict(weights)
    return model.to(map_location).eval(), hparams


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


class TextGenerator:
    r"""Samples text from a character language model.

    Args:
        model: a :class:`~seqmodels.models.CharLM`.
        vocab: its vocabulary, id -> character.

    Example::

        >>> text_generator = TextGenerator.from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> seeded = torch.Generator().manual_seed(0)
        >>> text_generator.generate("To be", 20, generator=seeded)  # doctest: +SKIP
        'To be a man and the pr'
    """

    def __init__(self, model: CharLM, vocab: Vocabulary) -> None:
        self.model, self.vocab = model, vocab

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> TextGenerator:
        """The generator of a :class:`~seqmodels.tasks.LanguageModelTask` checkpoint."""
        model, hparams = load_checkpoint(path, map_location)
        return cls(model, Vocabulary(hparams["vocab"]))

    def generate(
        self,
        prompt: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> str:
        """The prompt followed by ``max_new_tokens`` sampled characters (see
        :meth:`seqmodels.models.CharLM.generate`); None prompts with the most frequent character.

        Raises:
            ValueError: a prompt character that is not in the vocabulary.
        """
        prompt = self.vocab.itos[0] if prompt is None else prompt
        prompt_ids = torch.tensor(self.vocab.encode(prompt), device=_device(self.model))
        new = self.model.generate(prompt_ids, max_new_tokens, temperature, top_k, generator)
        return prompt + "".join(self.vocab.decode(new))


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
        """The translator of a :class:`~seqmodels.tasks.Seq2SeqTask` checkpoint, with its
        decoding settings (``level``, ``beam_size``, ``length_penalty``, ``max_len``)."""
        model, hparams = load_checkpoint(path, map_location)
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
                src.to(_device(self.model)),  # (N, S)
                lengths,
                max_len=max_len or self.max_len,
                beam_size=beam_size or self.beam_size,
                length_penalty=self.length_penalty,
            )
        return [self.join(self.detokenize(row)) for row in out.tokens.tolist()]


class TextClassifier:
    r"""Labels raw texts with a sequence classifier.

    Texts are read as in training: :func:`~seqmodels.preprocessing.tokenize` (with
    ``remove_html_breaks``), then :func:`~seqmodels.preprocessing.truncate` to ``max_length``
    tokens keeping the ``keep`` part; unknown words become ``<unk>``.

    Args:
        model: a :class:`~seqmodels.models.SequenceClassifier`.
        vocab: its vocabulary, id -> token (with ``<pad>``).
        labels: class id -> label.
        remove_html_breaks, max_length, keep: the text settings of training.

    Example::

        >>> classifier = TextClassifier.from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> classifier.predict(["a charming journey", "a dull, tired plot"])  # doctest: +SKIP
        ['positive', 'negative']
    """

    def __init__(
        self,
        model: SequenceClassifier,
        vocab: Vocabulary,
        labels: Sequence[str],
        remove_html_breaks: bool = False,
        max_length: int | None = None,
        keep: str = "head",
    ) -> None:
        truncate([], max_length, keep)  # raises on a bad max_length or keep
        self.model, self.vocab, self.labels = model, vocab, list(labels)
        self.remove_html_breaks, self.max_length, self.keep = remove_html_breaks, max_length, keep

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> TextClassifier:
        """The classifier of a :class:`~seqmodels.tasks.ClassificationTask` checkpoint."""
        model, hparams = load_checkpoint(path, map_location)
        settings = {
            name: hparams[name]
            for name in ("remove_html_breaks", "max_length", "keep")
            if name in hparams
        }
        return cls(model, Vocabulary(hparams["vocab"]), hparams["labels"], **settings)

    def encode(self, texts: Sequence[str]) -> tuple[Tensor, Tensor]:
        """Token ids and lengths of raw texts: ``(tokens (N, L), lengths (N,))``, padded.

        Raises:
            ValueError: a text without any token.
        """
        ids = []
        for text in texts:
            tokens = tokenize(text, self.remove_html_breaks)
            if not tokens:
                raise ValueError(f"cannot classify a text without any token: {text!r}")
            tokens = truncate(tokens, self.max_length, self.keep)
            ids.append(torch.tensor(self.vocab.encode(tokens)))
        lengths = torch.tensor([len(i) for i in ids])
        tokens = nn.utils.rnn.pad_sequence(
            ids, batch_first=True, padding_value=self.vocab.pad_index
        )
        return tokens, lengths

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The predicted label of each text."""
        tokens, lengths = self.encode(texts)
        device = _device(self.model)
        with evaluating(self.model), torch.no_grad():
            classes = self.model(tokens.to(device), lengths.to(device)).argmax(-1)  # (N,)
        return [self.labels[c] for c in classes.tolist()]


class Forecaster:
    r"""Forecasts a univariate series in its own units with a window forecaster.

    The window is scaled as in training, :math:`x' = (x - \text{shift}) / \text{scale}`, rolled
    out by the model's :meth:`~seqmodels.models.WindowForecaster.forecast`, and scaled back.

    Args:
        model: a :class:`~seqmodels.models.WindowForecaster` (e.g. a
            :class:`~seqmodels.models.SequenceRegressor`) with ``input_size == 1``.
        scaler: the target's scaling.

    Example::

        >>> forecaster = Forecaster.from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> window = torch.tensor([112.0, 118.0, 132.0, 129.0])  # a model with seq_len=4
        >>> forecaster.forecast(window, steps=3)  # doctest: +SKIP
        tensor([121.3, 135.0, 148.2])
    """

    def __init__(self, model: WindowForecaster, scaler: Scaler) -> None:
        if model.input_size != 1:
            raise ValueError(
                f"Forecaster reads univariate windows, but the model takes {model.input_size} "
                "values per step (covariates, whose scaling the checkpoint does not keep); call "
                "model.forecast on windows scaled as in training"
            )
        self.model, self.scaler = model, scaler

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> Forecaster:
        """The forecaster of a :class:`~seqmodels.tasks.RegressionTask` checkpoint."""
        model, hparams = load_checkpoint(path, map_location)
        return cls(model, Scaler(hparams["target_shift"], hparams["target_scale"]))

    def forecast(self, window: Tensor, steps: int) -> Tensor:
        """The ``steps`` values after ``window``, in the series' units.

        Args:
            window: the last observed values, ``(L,)`` or ``(N, L)``, in the series' units
                (``L`` is the model's ``seq_len`` when it has one).
            steps: how many values to forecast.

        Returns:
            ``(steps,)`` or ``(N, steps)``.
        """
        if window.dim() not in (1, 2):
            raise ValueError(f"window must be (L,) or (N, L), got shape {tuple(window.shape)}")
        x = self.scaler.transform(window.float()).to(_device(self.model))
        x = x.reshape(-1, window.size(-1), 1)  # (N, L, 1)
        with evaluating(self.model):  # forecast runs without gradients
            scaled = self.model.forecast(x, steps)  # (N, steps)
        forecast = self.scaler.inverse(scaled)
        return forecast[0] if window.dim() == 1 else forecast
