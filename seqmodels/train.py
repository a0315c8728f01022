"""Train a task from a Hydra config: ``train(cfg) -> metrics``, and the ``seqmodels-train`` CLI.

Examples::

    python scripts/train.py                                   # the sine job, on CPU
    python scripts/train.py experiment=cosine model.cell=gru trainer.max_epochs=10
    python scripts/train.py -m model.cell=rnn,lstm,gru        # a sweep, one job per cell
    python scripts/train.py ckpt_path=outputs/.../checkpoints/last.ckpt   # resume a run
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from seqmodels.data.base import SequenceDataModule

# the repository's conf/, installed as this package (see pyproject.toml)
CONFIG_PACKAGE = "seqmodels.conf"


def build_task_and_data(cfg: DictConfig) -> tuple[L.LightningModule, SequenceDataModule]:
    """The data module and the task, joined by the data's :class:`~seqmodels.data.base.DataSpec`.

    The model spec is ``cfg.model`` completed with the spec's model fields (sizes that depend on
    the data); the task also gets its task fields (e.g. the scaler or the vocabulary), so its
    checkpoint carries everything needed to rebuild and use it.
    """
    datamodule = instantiate(cfg.data, _convert_="all")
    data = datamodule.describe()
    model = {**OmegaConf.to_container(cfg.model, resolve=True), **data.model_arguments()}
    task = instantiate(cfg.task, _partial_=True, _convert_="all")(
        model=model, **data.task_arguments()
    )
    return task, datamodule


def build_trainer(cfg: DictConfig) -> L.Trainer:
    """The Trainer of ``cfg.trainer`` with the loggers of ``cfg.logger`` and the callbacks of
    ``cfg.callbacks`` (entries set to null are left out)."""
    loggers = [instantiate(c) for c in cfg.get("logger", {}).values() if c is not None]
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values() if c is not None]
    return instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the task described by ``cfg`` (see ``conf/train.yaml``).

    Returns:
        the final metrics: ``train/*`` and ``val/*`` of the last epoch, and ``test/*`` of the
        best checkpoint (by the checkpoint callback's monitored metric).
    """
    L.seed_everything(cfg.seed, workers=True)
    task, datamodule = build_task_and_data(cfg)
    trainer = build_trainer(cfg)
    metrics: dict[str, float] = {}
    if cfg.train:
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update(_floats(trainer.callback_metrics))
    if cfg.test:
        best = trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
        for results in trainer.test(task, datamodule=datamodule, ckpt_path=best or None):
            metrics.update(_floats(results))
    _log_hparams(trainer, cfg, metrics)
    return metrics


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}


def _log_hparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Write the run's settings with its final metrics to TensorBoard's HPARAMS tab.

    The settings are the config's, small values only: the task's own hyperparameters, which hold
    data-dependent values such as vocabularies, stay in its checkpoint.
    """
    params = {
        key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("data", "model", "task")
    }
    params["seed"] = cfg.seed
    params["trainer"] = {
        key: cfg.trainer.get(key)
        for key in ("max_epochs", "gradient_clip_val", "gradient_clip_algorithm", "devices")
    }
    finite = {name: value for name, value in metrics.items() if math.isfinite(value)}
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, metrics=finite)
            logger.save()  # flush: the process may end before the writer's next flush


@rank_zero_only
def _report(metrics: dict[str, float], cfg: DictConfig) -> None:
    output_dir = Path(cfg.paths.output_dir)
    print("\nFinal metrics:")
    for name, value in sorted(metrics.items()):
        print(f"  {name:28s} {value:.6g}")
    print(f"Run directory:    {output_dir}")
    if "tensorboard" in cfg.get("logger", {}):
        print(f"TensorBoard logs: {output_dir / 'tensorboard'}")
        print(f"  view with:      tensorboard --logdir {output_dir.parent}")


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Command line entry point; returns ``cfg.optimized_metric`` for sweepers (Optuna)."""
    metrics = train(cfg)
    _report(metrics, cfg)
    if cfg.get("optimized_metric"):
        if cfg.optimized_metric not in metrics:
            raise KeyError(
                f"optimized_metric {cfg.optimized_metric!r} was not logged; "
                f"logged metrics: {sorted(metrics)}"
            )
        return metrics[cfg.optimized_metric]
    return None


if __name__ == "__main__":
    main()
