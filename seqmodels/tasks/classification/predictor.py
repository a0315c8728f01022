r"""Text classification's predictor: :class:`TextClassifier`, from a checkpoint with torch only.

No Lightning, no Hydra: this module imports neither, nor the task's LightningModule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqmodels.models.classifier import SequenceClassifier
from seqmodels.models.heads import evaluating
from seqmodels.models.spec import load_checkpoint
from seqmodels.preprocessing import Vocabulary, tokenize, truncate

__all__ = ["TextClassifier"]


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
        """The classifier of a ``ClassificationTask`` checkpoint (``task.py`` beside this file).

        Raises:
            seqmodels.models.spec.CheckpointMismatch: the checkpoint's model is not a
                :class:`~seqmodels.models.SequenceClassifier`; the message names its experiment.
        """
        model, hparams = load_checkpoint(path, map_location, SequenceClassifier)
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
        device = next(self.model.parameters()).device
        with evaluating(self.model), torch.no_grad():
            classes = self.model(tokens.to(device), lengths.to(device)).argmax(-1)  # (N,)
        return [self.labels[c] for c in classes.tolist()]
