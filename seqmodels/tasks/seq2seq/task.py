r"""Sequence-to-sequence: teacher-forced cross-entropy, decoded metrics, attention figures."""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy
from torchmetrics.text import BLEUScore

from seqmodels.preprocessing import EOS, Vocabulary
from seqmodels.tasks.base import SequenceTask
from seqmodels.tasks.seq2seq.predictor import Translator

__all__ = ["Seq2SeqTask"]

Batch = tuple[Tensor, Tensor, Tensor]  # src (N, S), src_lengths (N,), tgt (N, T)


class Seq2SeqTask(SequenceTask):
    r"""Trains a :class:`~seqmodels.models.Seq2Seq` on pairs (:mod:`~seqmodels.tasks.seq2seq.data`).

    The loss is the cross-entropy of the teacher-forced logits against the target, ignoring
    padding, with optional label smoothing. Validation and test also decode every source
    (greedy, or beam search with ``beam_size > 1``) and report:

    * ``acc``: token accuracy of the teacher-forced predictions (padding ignored);
    * ``exact_match``: fraction of decoded outputs equal to the target (up to ``<eos>``);
    * ``bleu``: corpus BLEU-4 (torchmetrics ``BLEUScore``) of the decoded outputs, tokens being
      words or characters as in the data.

    At the end of each validation and test epoch TensorBoard gets ``{stage}/attention`` (heat
    maps of the first sources' attention weights, when the model attends) and
    ``{stage}/samples`` (source, target and prediction of the first ``num_samples`` pairs).

    Args:
        model: model spec dict (see :class:`~seqmodels.tasks.base.SequenceTask`).
        src_vocab, tgt_vocab: the vocabularies' tokens in id order (fields of the data's
            ``PairsSpec``), kept in the checkpoint to decode.
        level: ``"char"`` or ``"word"``: how text is split into tokens and joined back.
        label_smoothing: label smoothing of the cross-entropy.
        teacher_forcing: probability of feeding the true previous token during training.
        beam_size: beam width used to decode in validation, test and :meth:`translate`
            (1 = greedy).
        length_penalty: exponent :math:`\alpha` of the beam's length normalisation.
        max_len: most tokens decoded per output.
        num_samples: samples and heat maps logged per validation / test epoch.
        **kwargs: ``optimizer``, ``scheduler``, ... of :class:`~seqmodels.tasks.base.SequenceTask`.

    Example::

        >>> task = Seq2SeqTask.load_from_checkpoint("best.ckpt")  # doctest: +SKIP
        >>> task.translate(["je suis fatigue ."])  # doctest: +SKIP
        ['i m tired .']
    """

    def __init__(
        self,
        model: dict,
        src_vocab: list[str],
        tgt_vocab: list[str],
        level: str = "word",
        label_smoothing: float = 0.0,
        teacher_forcing: float = 1.0,
        beam_size: int = 1,
        length_penalty: float = 1.0,
        max_len: int = 50,
        num_samples: int = 4,
        **kwargs,
    ) -> None:
        super().__init__(model, **kwargs)
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must lie in [0, 1], got {teacher_forcing}")
        self.src_vocab, self.tgt_vocab = Vocabulary(src_vocab), Vocabulary(tgt_vocab)
        # raises on a bad level or vocabularies of the wrong sizes
        self.translator = Translator(
            self.model, self.src_vocab, self.tgt_vocab, level, beam_size, length_penalty, max_len
        )
        self.pad_id = self.model.pad_id
        self.metrics = nn.ModuleDict(
            {
                stage: MetricCollection(
                    {
                        "acc": MulticlassAccuracy(
                            len(tgt_vocab), average="micro", ignore_index=self.pad_id
                        ),
                        "exact_match": MeanMetric(),
                        "bleu": BLEUScore(n_gram=4),
                    },
                    prefix=f"{stage}/",
                    compute_groups=False,
                )
                for stage in ("val", "test")
            }
        )
        self._samples: dict = {}

    # ---- steps -------------------------------------------------------------------------------

    def _loss(self, logits: Tensor, tgt: Tensor) -> Tensor:
        return nn.functional.cross_entropy(
            logits.transpose(1, 2),  # (N, V, T) against (N, T)
            tgt,
            ignore_index=self.pad_id,
            label_smoothing=self.hparams.label_smoothing,
        )

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor) -> Tensor:
        return self.model(src, src_lengths, tgt)

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        src, src_lengths, tgt = batch
        logits = self.model(src, src_lengths, tgt, teacher_forcing=self.hparams.teacher_forcing)
        loss = self._loss(logits, tgt)
        self.log_train("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, batch_idx, "test")

    def _decode(self, src: Tensor, src_lengths: Tensor):
        return self.model.generate(
            src,
            src_lengths,
            max_len=self.hparams.max_len,
            beam_size=self.hparams.beam_size,
            length_penalty=self.hparams.length_penalty,
        )

    def _evaluate(self, batch: Batch, batch_idx: int, stage: str) -> Tensor:
        src, src_lengths, tgt = batch
        logits = self.model(src, src_lengths, tgt)
        loss = self._loss(logits, tgt)
        self.log(f"{stage}/loss", loss, prog_bar=True)
        metrics = self.metrics[stage]
        metrics["acc"].update(logits.argmax(-1), tgt)
        out = self._decode(src, src_lengths)
        predictions = [self.translator.detokenize(row) for row in out.tokens.tolist()]
        targets = [self.translator.detokenize(row) for row in tgt.tolist()]
        matches = [p == t for p, t in zip(predictions, targets, strict=True)]
        metrics["exact_match"].update(torch.tensor(matches, dtype=torch.float))
        metrics["bleu"].update([" ".join(p) for p in predictions], [[" ".join(t)] for t in targets])
        self.log_dict(metrics, prog_bar=True)
        if batch_idx == 0:
            self._samples = {
                "sources": [
                    self.src_vocab.decode(s[:n]) for s, n in zip(src, src_lengths, strict=True)
                ],
                "targets": targets,
                "predictions": predictions,
                "lengths": out.lengths.tolist(),
                "attention": None if out.attention is None else out.attention.cpu(),
            }
        return loss

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._log_samples("val")

    def on_test_epoch_end(self) -> None:
        self._log_samples("test")

    def _log_samples(self, stage: str) -> None:
        samples, n = self._samples, self.hparams.num_samples
        if not samples or n == 0:
            return
        rows = ["| source | target | prediction |", "| --- | --- | --- |"]
        triples = zip(samples["sources"], samples["targets"], samples["predictions"], strict=True)
        join = self.translator.join
        for source, target, prediction in list(triples)[:n]:
            rows.append(f"| {join(source)} | {join(target)} | {join(prediction)} |")
        self.log_text(f"{stage}/samples", "\n".join(rows))
        if samples["attention"] is not None:
            self.log_figure(f"{stage}/attention", self._attention_figure(samples, n))

    def _attention_figure(self, samples: dict, n: int) -> Figure:
        n = min(n, len(samples["sources"]))
        figure = Figure(figsize=(4.5 * n, 4.5), layout="constrained")
        for axes, i in zip(figure.subplots(1, n, squeeze=False)[0], range(n), strict=True):
            source, length = samples["sources"][i], samples["lengths"][i]
            output = samples["predictions"][i] + [EOS]
            weights = samples["attention"][i, :length, : len(source)].float().numpy()  # (L, S)
            axes.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            axes.set_xticks(range(len(source)), source, rotation=90)
            axes.set_yticks(range(length), output[:length])
            axes.set_xlabel("source")
            axes.set_ylabel("prediction")
        return figure

    # ---- inference ---------------------------------------------------------------------------

    def translate(
        self, texts: list[str], beam_size: int | None = None, max_len: int | None = None
    ) -> list[str]:
        """Decode each text (tokenized as in training); unknown tokens become ``<unk>``. See
        :meth:`Translator.translate` (``predictor.py``), which does it without Lightning.
        """
        return self.translator.translate(texts, beam_size, max_len)
