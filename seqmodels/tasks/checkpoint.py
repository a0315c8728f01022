"""Checkpoints of a training run: the best ones by a monitored metric, and ``last.ckpt``."""

from __future__ import annotations

import os
import shutil
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

__all__ = ["BestAndLastCheckpoint"]


class BestAndLastCheckpoint(ModelCheckpoint):
    """:class:`~lightning.pytorch.callbacks.ModelCheckpoint` whose ``last.ckpt`` is always the
    end of the last epoch, so that resuming from it continues where the run stopped.

    The best checkpoints (``save_top_k`` of them, by ``monitor``) are kept as by
    ``ModelCheckpoint``. ``last.ckpt`` is written at the end of every training epoch, and also at
    each validation within an epoch (``val_check_interval``) and every ``every_n_train_steps``
    steps when those are set, whether or not the monitored metric improved: a run resumed from it
    (``ckpt_path=.../last.ckpt``) continues at the next epoch and ends as an uninterrupted run
    would. Lightning's own ``save_last=True`` writes ``last.ckpt`` only when a best checkpoint is
    saved (recent Lightning versions), so ``last.ckpt`` can lag epochs behind.

    When the last epoch is also the one just saved as a best checkpoint, ``last.ckpt`` is a
    relative symbolic link to that file instead of a second copy (a copy where the file system
    has no links). Each file is written under a temporary name and then renamed, so an
    interrupted run never leaves a half-written ``last.ckpt``.

    A run resumed in a new directory (each Hydra run has its own) keeps the best score and the
    best checkpoints of the run it resumes, as an uninterrupted run would: it saves a new best
    only when the metric beats them, and tests the old best when none does. Files of the earlier
    run's directory are never deleted.

    Args:
        *args, **kwargs: those of ``ModelCheckpoint``.
        save_last: whether to keep ``last.ckpt`` (any true value; ``"link"`` is accepted for
            compatibility with ``ModelCheckpoint`` and behaves the same).

    Example::

        >>> checkpoint = BestAndLastCheckpoint(dirpath="checkpoints", monitor="val/loss")
        >>> trainer = L.Trainer(callbacks=[checkpoint])  # doctest: +SKIP
    """

    def __init__(self, *args: Any, save_last: bool | str | None = True, **kwargs: Any) -> None:
        super().__init__(*args, save_last=False, **kwargs)  # last.ckpt is written here
        self.keep_last = bool(save_last)
        self._last_saved_step: int | None = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args) -> None:
        super().on_train_batch_end(trainer, pl_module, *args)
        if self._last_global_step_saved == trainer.global_step:  # a step-triggered save
            self._save_last(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last(trainer)  # every epoch, validated or not

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last(trainer)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_model_score = state_dict["best_model_score"]
        self.best_model_path = state_dict["best_model_path"]
        self.best_k_models = state_dict.get("best_k_models", self.best_k_models)
        self.kth_best_model_path = state_dict.get("kth_best_model_path", self.kth_best_model_path)
        self.kth_value = state_dict.get("kth_value", self.kth_value)
        if state_dict.get("dirpath", self.dirpath) == self.dirpath:
            self.last_model_path = state_dict.get("last_model_path", self.last_model_path)

    def _remove_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        """Remove a checkpoint that fell out of the top k, unless an earlier run wrote it."""
        folder = os.path.dirname(os.path.abspath(filepath))
        if self.dirpath is not None and folder == os.path.abspath(self.dirpath):
            super()._remove_checkpoint(trainer, filepath)

    def _save_last(self, trainer: L.Trainer) -> None:
        if (
            not self.keep_last
            or trainer.fast_dev_run
            or trainer.sanity_checking
            or trainer.state.fn != TrainerFn.FITTING
            or trainer.global_step == 0  # nothing trained yet
            or trainer.global_step == self._last_saved_step
        ):
            return
        path = self.format_checkpoint_name(
            self._monitor_candidates(trainer), self.CHECKPOINT_NAME_LAST
        )
        self.last_model_path = path  # before saving: it is part of the saved state
        temporary = f"{path}.tmp"
        best = self._last_checkpoint_saved
        if self._last_global_step_saved == trainer.global_step and best and best != path:
            if trainer.is_global_zero:
                try:
                    os.symlink(os.path.relpath(best, os.path.dirname(path)), temporary)
                except OSError:  # no symbolic links here (e.g. Windows without the right)
                    shutil.copyfile(best, temporary)
        else:
            trainer.save_checkpoint(temporary, self.save_weights_only)
        if trainer.is_global_zero:
            os.replace(temporary, path)  # replaces a previous link itself, not its target
        trainer.strategy.barrier("BestAndLastCheckpoint")
        self._last_saved_step = trainer.global_step
