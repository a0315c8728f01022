r"""Text classification: cross-entropy, accuracy, F1 and a confusion-matrix figure."""

from __future__ import annotations

import itertools
import time

from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics import Accuracy, ConfusionMatrix, F1Score, MetricCollection

from seqmodels.preprocessing import Vocabulary, truncate
from seqmodels.tasks.base import SequenceTask
from seqmodels.tasks.classification.predictor import TextClassifier

__all__ = ["ClassificationTask"]

Batch = tuple[Tensor, Tensor, Tensor]  # tokens (N, L), lengths (N,), labels (N,)


class ClassificationTask(SequenceTask):
    r"""Sequence classification with a :class:`~seqmodels.models.SequenceClassifier`.

    The loss is the cross-entropy of the logits. Each stage logs ``loss``, ``acc`` and ``f1``
    (macro-averaged over classes) as ``train/acc``, ``val/f1``, ...; at the end of each validation
    and test epoch a confusion-matrix figure ``{stage}/confusion_matrix`` goes to TensorBoard.
    Each training epoch also logs ``train/tokens_per_s``: the tokens of its batches divided by the
    seconds from the epoch's start to the end of its last batch (data loading, forward, backward
    and optimizer steps; validation not included).
    The vocabulary, label names and text settings are hyperparameters, so a checkpoint holds
    everything :meth:`predict` needs.

    Args:
        model: model spec dict (see :class:`~seqmodels.tasks.base.SequenceTask`); its
            ``num_classes`` must equal ``len(labels)``.
        vocab: the vocabulary, id -> token (a field of the data's ``TextClassificationSpec``).
        labels: class id -> label as written in the data (a field of the same spec).
        remove_html_breaks, max_length, keep: how :meth:`predict` reads a text, as the data
            module did (fields of the same spec; see :func:`seqmodels.preprocessing.tokenize`
            and :func:`seqmodels.preprocessing.truncate`).
        **kwargs: ``optimizer``, ``scheduler``, ... of :class:`~seqmodels.tasks.base.SequenceTask`.

    Example::

        >>> task = ClassificationTask.load_from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> task.predict(["a charming journey", "a dull, tired plot"])  # doctest: +SKIP
        ['positive', 'negative']
    """

    def __init__(
        self,
        model: dict,
        vocab: list[str] | None = None,
        labels: list[str] | None = None,
        remove_html_breaks: bool = False,
        max_length: int | None = None,
        keep: str = "head",
        **kwargs,
    ) -> None:
        super().__init__(model, **kwargs)
        truncate([], max_length, keep)  # raises on a bad max_length or keep
        num_classes = model.get("num_classes", 2)
        self.labels = list(labels) if labels is not None else [str(c) for c in range(num_classes)]
        if len(self.labels) != num_classes:
            raise ValueError(
                f"labels has {len(self.labels)} entries but model num_classes is {num_classes}"
            )
        self.vocab = Vocabulary(vocab) if vocab is not None else None
        metrics = MetricCollection(
            {
                "acc": Accuracy(task="multiclass", num_classes=num_classes),
                "f1": F1Score(task="multiclass", num_classes=num_classes, average="macro"),
            }
        )
        self.train_metrics = metrics.clone(prefix="train/")
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        self.confusion = nn.ModuleDict(
            {
                stage: ConfusionMatrix(task="multiclass", num_classes=num_classes)
                for stage in ("val", "test")
            }
        )

    def forward(self, tokens: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.model(tokens, lengths)

    def on_train_epoch_start(self) -> None:
        self._epoch_start, self._epoch_seconds, self._epoch_tokens = time.perf_counter(), 0.0, 0

    def on_train_batch_end(self, outputs: Tensor, batch: Batch, batch_idx: int) -> None:
        self._epoch_tokens += int(batch[1].sum())
        self._epoch_seconds = time.perf_counter() - self._epoch_start

    def on_train_epoch_end(self) -> None:
        if self._epoch_seconds > 0:
            self.log("train/tokens_per_s", self._epoch_tokens / self._epoch_seconds)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def _step(self, batch: Batch, stage: str) -> Tensor:
        tokens, lengths, labels = batch
        logits = self.model(tokens, lengths)  # (N, C)
        loss = nn.functional.cross_entropy(logits, labels)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, labels)
        if stage in self.confusion:
            self.confusion[stage].update(logits, labels)
        batch_size = len(labels)
        if stage == "train":
            self.log_train("train/loss", loss, prog_bar=True, batch_size=batch_size)
        else:
            self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=batch_size)
        self.log_dict(
            metrics, on_step=False, on_epoch=True, prog_bar=stage != "train", batch_size=batch_size
        )
        return loss

    def on_validation_epoch_end(self) -> None:
        self._log_confusion("val")

    def on_test_epoch_end(self) -> None:
        self._log_confusion("test")

    def _log_confusion(self, stage: str) -> None:
        matrix = self.confusion[stage].compute().cpu()  # (C, C): rows true, columns predicted
        self.confusion[stage].reset()
        if self.trainer.sanity_checking:
            return
        self.log_figure(f"{stage}/confusion_matrix", confusion_figure(matrix, self.labels))

    @property
    def classifier(self) -> TextClassifier:
        """The model with the vocabulary, labels and text settings: inference without Lightning
        (:class:`seqmodels.tasks.classification.predictor.TextClassifier`)."""
        if self.vocab is None:
            raise ValueError("predict needs the vocabulary: build the task with vocab=...")
        settings = {
            name: self.hparams[name] for name in ("remove_html_breaks", "max_length", "keep")
        }
        return TextClassifier(self.model, self.vocab, self.labels, **settings)

    def encode(self, texts: list[str]) -> tuple[Tensor, Tensor]:
        """Token ids and lengths of raw texts, tokenized and truncated as in training.

        Returns ``(tokens, lengths)`` of shapes ``(N, L)`` (padded) and ``(N,)``.
        """
        return self.classifier.encode(texts)

    def predict(self, texts: list[str]) -> list[str]:
        """The predicted label of each text (tokenized and truncated as in training)."""
        return self.classifier.predict(texts)


def confusion_figure(matrix: Tensor, labels: list[str]) -> Figure:
    """A confusion matrix ``(C, C)`` (rows: true class, columns: predicted) drawn with counts."""
    figure = Figure(figsize=(1.2 * len(labels) + 2, 1.2 * len(labels) + 1.5), layout="constrained")
    axes = figure.subplots()
    axes.imshow(matrix.numpy(), cmap="Blues")
    ticks = range(len(labels))
    axes.set_xticks(ticks, labels)
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for row, column in itertools.product(ticks, ticks):
        axes.text(column, row, str(int(matrix[row, column])), ha="center", va="center")
    return figure
