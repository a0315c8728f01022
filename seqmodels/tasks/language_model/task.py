r"""Character language modelling: cross-entropy, bits per character, perplexity, truncated BPTT."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric

from seqmodels.preprocessing import Vocabulary
from seqmodels.tasks.base import SequenceTask
from seqmodels.tasks.language_model.predictor import TextGenerator

__all__ = ["LanguageModelTask"]

Batch = tuple[Tensor, Tensor]  # inputs (N, T), targets (N, T)


def detach_state(state: Tensor | tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    """The state cut from the graph of the window that produced it (truncated BPTT)."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


class LanguageModelTask(SequenceTask):
    r"""Next-character prediction with a :class:`~seqmodels.models.CharLM`, trained with
    truncated backpropagation through time.

    Batches are consecutive windows of the same streams (see
    :class:`~seqmodels.tasks.language_model.data.BPTTWindows`): the recurrent state at the end of
    one batch is the initial state of the next, detached so gradients flow back at most one window
    (``seq_len`` steps), as in pytorch/examples' word_language_model. The state starts at zero at
    the start of each epoch of each stage.

    Metrics, per stage: ``loss`` (cross-entropy in nats per character), ``bpc``
    (:math:`\text{loss} / \ln 2`) and, for validation and test, ``ppl``
    (:math:`e^{\text{loss}}`), averaged over all characters of the epoch. After each validation
    a sample of ``sample_length`` characters is logged to TensorBoard as text (``val/sample``),
    drawn with a fixed seed so samples from one validation to the next are comparable.
    The vocabulary is a hyperparameter, so a checkpoint holds everything :meth:`generate_text`
    needs.

    Args:
        model: model spec dict (see :class:`~seqmodels.tasks.base.SequenceTask`).
        vocab: the vocabulary, id -> character (a field of the data's ``CharTextSpec``).
        sample_prompt: prompt of the validation samples; None starts from the most frequent
            character.
        sample_length: characters generated for each sample (0: no sample).
        sample_temperature: sampling temperature of the samples.
        sample_top_k: sample among the ``top_k`` most likely characters only (None: all).
        **kwargs: ``optimizer``, ``scheduler``, ... of :class:`~seqmodels.tasks.base.SequenceTask`.

    Example::

        >>> task = LanguageModelTask.load_from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> print(task.generate_text("ROMEO:", 100, temperature=0.8))  # doctest: +SKIP
    """

    def __init__(
        self,
        model: dict,
        vocab: list[str] | None = None,
        sample_prompt: str | None = None,
        sample_length: int = 200,
        sample_temperature: float = 0.8,
        sample_top_k: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(model, **kwargs)
        self.vocab = Vocabulary(vocab) if vocab is not None else None
        self.mean_loss = nn.ModuleDict({stage: MeanMetric() for stage in ("val", "test")})
        self._state: dict[str, Tensor | tuple[Tensor, ...] | None] = {}

    def forward(self, tokens: Tensor, state: Tensor | tuple[Tensor, ...] | None = None):
        return self.model(tokens, state)

    def on_train_epoch_start(self) -> None:
        self._state["train"] = None

    def on_validation_epoch_start(self) -> None:
        self._state["val"] = None

    def on_test_epoch_start(self) -> None:
        self._state["test"] = None

    def _loss(self, batch: Batch, stage: str) -> Tensor:
        inputs, targets = batch
        logits, state = self.model(inputs, self._state.get(stage))  # (N, T, V)
        self._state[stage] = detach_state(state)
        return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss = self._loss(batch, "train")
        self.log_train("train/loss", loss, prog_bar=True)
        self.log_train("train/bpc", loss / math.log(2))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "test")

    def _evaluate(self, batch: Batch, stage: str) -> Tensor:
        loss = self._loss(batch, stage)
        self.mean_loss[stage].update(loss, weight=batch[1].numel())  # a mean over characters
        return loss

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")
        if self.hparams.sample_length > 0 and not self.trainer.sanity_checking:
            sample = self.generate_text(
                self.hparams.sample_prompt,
                self.hparams.sample_length,
                self.hparams.sample_temperature,
                self.hparams.sample_top_k,
                generator=torch.Generator(self.device).manual_seed(0),
            )
            self.log_text("val/sample", "```\n" + sample + "\n```")  # markdown keeps line breaks

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _log_epoch(self, stage: str) -> None:
        loss = self.mean_loss[stage].compute()
        self.mean_loss[stage].reset()
        self.log(f"{stage}/loss", loss, prog_bar=True)
        self.log(f"{stage}/bpc", loss / math.log(2))
        self.log(f"{stage}/ppl", loss.exp())

    def generate_text(
        self,
        prompt: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> str:
        """The prompt followed by ``max_new_tokens`` sampled characters: see
        :meth:`TextGenerator.generate` (``predictor.py``), which does it without
        Lightning."""
        if self.vocab is None:
            raise ValueError("generate_text needs the vocabulary: build the task with vocab=...")
        text_generator = TextGenerator(self.model, self.vocab)
        return text_generator.generate(prompt, max_new_tokens, temperature, top_k, generator)
