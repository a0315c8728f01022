"""The base LightningModule shared by every task: model building, optimizers, safety checks.

A task owns one model (a plain ``nn.Module`` from :mod:`seqmodels.models`), its loss and its
metrics. The model is given as a *spec dict* ``{"_target_": "pkg.module.Class", **kwargs}`` and
built with :func:`seqmodels.models.spec.build_model` (importlib, no Hydra), so
``save_hyperparameters()`` records it and ``MyTask.load_from_checkpoint(path)`` rebuilds the
model anywhere, without Hydra; each task's ``predictor`` rebuilds it without Lightning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import lightning as L
import matplotlib
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import nn

from seqmodels.models.spec import build_model

matplotlib.use("Agg")  # figures are rendered off-screen, for TensorBoard only

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


@dataclass(frozen=True)
class ModelChoice:
    """A model argument that the training job chooses on the validation data.

    :func:`seqmodels.train.train` fits one model per candidate value, each in
    ``<output_dir>/<argument>_<value>`` when there are several, and tests the one whose
    validation score (the checkpoint callback's monitored metric) is lowest; it reports each
    candidate's score as ``select/<value>_val_loss``. A task asks for it by overriding
    :meth:`SequenceTask.model_choice`.

    Attributes:
        argument: the model argument, e.g. ``"norm"`` (``model.norm`` in the config).
        asked: the value that asks for the choice, e.g. ``"auto"``.
        values: the candidates, e.g. ``("last", "seasonal")``.
    """

    argument: str
    asked: str
    values: tuple[str, ...]


class SequenceTask(L.LightningModule):
    r"""Base class of the ready tasks (regression, classification, language model, seq2seq).

    What the base does, so subclasses only write their step logic:

    * builds ``self.model`` from the ``model`` spec dict (see
      :func:`seqmodels.models.spec.build_model`);
    * records every constructor argument of the subclass chain as hyperparameters (no need to
      call ``save_hyperparameters`` again), except ``optimizer`` and ``scheduler``: those are
      callables, so checkpoints keep plain data only and load with ``weights_only=True``. They go
      to the checkpoint, not to the loggers: they include data-dependent values such as a
      vocabulary of thousands of tokens (:func:`seqmodels.train.train` logs the run's config with
      its final metrics instead);
    * ``configure_optimizers`` from the ``optimizer`` / ``scheduler`` factories
      (Hydra ``_partial_: true`` objects); Adam with lr 1e-3 when ``optimizer`` is None;
    * stops the run with a ``FloatingPointError`` naming the stage and step when a loss is NaN or
      infinite. Training losses are checked before backward; validation and test losses are
      checked when ``validation_step`` / ``test_step`` return the loss (a tensor, or a dict with
      a ``"loss"`` key) -- so return it;
    * saves the random number generators' states in checkpoints and restores them on resume, so a
      run resumed from ``last.ckpt`` shuffles and drops out exactly as an uninterrupted one;
    * :meth:`log_train` logs a training value as a per-step curve (``train/loss``) and its epoch
      mean (``train/loss_epoch``);
    * :meth:`log_figure` (a ``matplotlib.figure.Figure``, no pyplot needed) and :meth:`log_text`
      write to TensorBoard when a TensorBoard logger is attached (:attr:`has_tensorboard`), and
      do nothing otherwise.

    Gradient clipping is a Trainer setting (``gradient_clip_val`` / ``gradient_clip_algorithm``
    ``"norm"`` or ``"value"`` in ``conf/trainer``). Metric names are ``stage/name``
    (``train/loss``, ``val/rmse``, ``test/acc``).

    Args:
        model: spec dict of the model, ``{"_target_": "seqmodels.models.SequenceRegressor", ...}``.
        optimizer: ``optimizer(params) -> torch.optim.Optimizer``, e.g.
            ``functools.partial(torch.optim.AdamW, lr=3e-3)``. Default: Adam, lr 1e-3.
        scheduler: optional ``scheduler(optimizer) -> LRScheduler``.
        scheduler_interval: ``"epoch"`` or ``"step"``: when the scheduler steps.
        scheduler_monitor: metric given to schedulers that need one (``ReduceLROnPlateau``).

    Example:
        >>> class Fit(SequenceTask):
        ...     def __init__(self, model: dict, loss_scale: float = 1.0, **kwargs):
        ...         super().__init__(model, **kwargs)
        ...     def training_step(self, batch, batch_idx):
        ...         x, y = batch
        ...         loss = self.hparams.loss_scale * nn.functional.mse_loss(self.model(x), y)
        ...         self.log("train/loss", loss)
        ...         return loss
        >>> task = Fit({"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 1})
        >>> task.hparams.loss_scale
        1.0
    """

    def __init__(
        self,
        model: dict,
        optimizer: OptimizerFactory | None = None,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str = "val/loss",
    ) -> None:
        super().__init__()
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(
                f"scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}"
            )
        # frame walks up through the subclasses' __init__, so their arguments are recorded too
        self.save_hyperparameters(ignore=["optimizer", "scheduler"], logger=False)
        self.model = build_model(model)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler

    @classmethod
    def model_choice(cls, model: Mapping[str, Any]) -> ModelChoice | None:
        """The model argument to choose on the validation data for the model spec ``model``
        (the job's ``model`` config), or None (the default: the model is fitted as it is)."""
        return None

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            optimizer = torch.optim.Adam(self.parameters(), lr=1e-3)
        else:
            optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {
                "scheduler": scheduler,
                "interval": self.hparams.scheduler_interval,
                "monitor": self.hparams.scheduler_monitor,
            },
        }

    # ---- exact resume ----------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["rng_states"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            checkpoint["rng_states"]["cuda"] = torch.cuda.get_rng_state_all()
        if self._trainer is not None:  # what a plateau scheduler needs to catch up on resume
            metrics = self.trainer.callback_metrics
            checkpoint["scheduler_metrics"] = {
                config.monitor: float(metrics[config.monitor])
                for config in self.trainer.lr_scheduler_configs
                if config.reduce_on_plateau and config.monitor in metrics
            }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        resuming = self._trainer is not None and self.trainer.state.fn == "fit"
        states = checkpoint.get("rng_states", {}) if resuming else {}
        if "torch" in states:
            torch.set_rng_state(states["torch"])
        if "cuda" in states and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(states["cuda"])
        self._scheduler_metrics = checkpoint.get("scheduler_metrics", {}) if resuming else {}

    def on_train_start(self) -> None:
        self._catch_up_epoch_schedulers()

    def _catch_up_epoch_schedulers(self) -> None:
        """Step the per-epoch schedulers once more when the checkpoint a run resumes from was
        written at the end of an epoch before they stepped for it.

        Checkpoints are written at the end of an epoch (by ``ModelCheckpoint``) before Lightning
        steps the per-epoch learning-rate schedulers, and Lightning does not step them for that
        epoch when it resumes: without this, a resumed run's learning rate lags one epoch behind
        an uninterrupted run's. A scheduler is stepped only when its step count (``last_epoch``)
        is exactly one short of the epochs done; a plateau scheduler gets the metric value the
        checkpoint recorded.
        """
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != "epoch" or not config.frequency:
                continue
            done = getattr(config.scheduler, "last_epoch", None)
            if done != self.current_epoch // config.frequency - 1:
                continue
            value = None
            if config.reduce_on_plateau:
                value = getattr(self, "_scheduler_metrics", {}).get(config.monitor)
                if value is None:
                    continue
            self.lr_scheduler_step(config.scheduler, value)

    # ---- logging ---------------------------------------------------------------------------

    def log_train(self, name: str, value: Any, **kwargs: Any) -> None:
        """Log a training value twice: each step as ``name`` (the curve, every
        ``log_every_n_steps`` steps) and its mean over the epoch as ``name_epoch``.

        Lightning's own ``on_step=True, on_epoch=True`` names them ``name_step`` and
        ``name_epoch``, so that no curve is called ``name``; here ``train/loss`` is the per-step
        curve. Keyword arguments go to both :meth:`log` calls (``prog_bar`` to the first only).
        """
        self.log(name, value, on_step=True, on_epoch=False, **kwargs)
        kwargs.pop("prog_bar", None)
        self.log(f"{name}_epoch", value, on_step=False, on_epoch=True, **kwargs)

    # ---- NaN / inf guard -------------------------------------------------------------------

    def _check_finite(self, loss: Any, stage: str, batch_idx: int | None = None) -> None:
        if isinstance(loss, Mapping):
            loss = loss.get("loss")
        if not isinstance(loss, torch.Tensor) or torch.isfinite(loss.detach()).all():
            return
        batch = "" if batch_idx is None else f", {stage} batch {batch_idx}"
        raise FloatingPointError(
            f"non-finite {stage} loss ({loss.detach().float().flatten()[:4].tolist()}) at epoch "
            f"{self.current_epoch}, global step {self.global_step}{batch}; stopping the run. "
            "Try a lower learning rate, gradient clipping (trainer.gradient_clip_val) "
            "or look for NaN/inf values in the data."
        )

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self._check_finite(loss, "train")

    def on_validation_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._check_finite(outputs, "val", batch_idx)

    def on_test_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        self._check_finite(outputs, "test", batch_idx)

    # ---- TensorBoard extras ----------------------------------------------------------------

    @property
    def has_tensorboard(self) -> bool:
        """Whether a TensorBoard logger is attached (skip building figures and samples if not)."""
        return bool(self._tensorboards())

    def _tensorboards(self) -> list:
        if self._trainer is None:
            return []
        return [lg.experiment for lg in self.loggers if isinstance(lg, TensorBoardLogger)]

    def log_figure(self, tag: str, figure: Figure) -> None:
        """Write a matplotlib figure to TensorBoard at the current global step."""
        for writer in self._tensorboards():
            writer.add_figure(tag, figure, global_step=self.global_step, close=False)

    def log_text(self, tag: str, text: str) -> None:
        """Write text (e.g. a generated sample) to TensorBoard at the current global step."""
        for writer in self._tensorboards():
            writer.add_text(tag, text, global_step=self.global_step)
