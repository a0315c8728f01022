"""Train a task from a Hydra config: ``train(cfg) -> metrics``, and the ``seqmodels-train`` CLI.

Examples::

    python scripts/train.py                                   # the sine job, on CPU
    python scripts/train.py experiment=cosine model.cell=gru trainer.max_epochs=10
    python scripts/train.py -m model.cell=rnn,lstm,gru        # a sweep, one job per cell
    python scripts/train.py ckpt_path=outputs/.../checkpoints/last.ckpt   # resume a run
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException, InstantiationException
from hydra.utils import get_class, instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException
from torch.utils.tensorboard.summary import hparams

from seqmodels.data.base import SequenceDataModule
from seqmodels.models.spec import RUN_KEY
from seqmodels.tasks.base import ModelChoice

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


def build_trainer(cfg: DictConfig, store_config: bool = False) -> L.Trainer:
    """The Trainer of ``cfg.trainer`` with the loggers of ``cfg.logger`` and the callbacks of
    ``cfg.callbacks`` (entries set to null are left out); with ``store_config``, its
    checkpoints also hold the run's config (:class:`StoreRunConfig`)."""
    loggers = [instantiate(c) for c in cfg.get("logger", {}).values() if c is not None]
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values() if c is not None]
    if store_config:
        callbacks.append(StoreRunConfig(cfg))
    return instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks)


class StoreRunConfig(L.Callback):
    """Keeps the run's config in each checkpoint, under ``"seqmodels_run"``: ``{"name": ...,
    "config": {...}}`` (plain values, resolved), so that ``scripts/evaluate.py`` and the
    torch-only scripts know which experiment, data and task a checkpoint was trained with
    (:func:`seqmodels.evaluate.trained_config`, :func:`seqmodels.models.spec.trained_run`)."""

    KEY = RUN_KEY

    def __init__(self, cfg: DictConfig) -> None:
        self.config = OmegaConf.to_container(cfg, resolve=True)

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[self.KEY] = {"name": self.config.get("name"), "config": self.config}


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit and test the task described by ``cfg`` (see ``conf/train.yaml``).

    When the task asks for a model argument to be chosen on the validation data
    (:meth:`~seqmodels.tasks.base.SequenceTask.model_choice`, such as forecasting's
    ``model.norm=auto``), one model is fitted per candidate, each in
    ``<paths.output_dir>/<argument>_<value>`` when there are several, and the one with the lowest
    validation score (the checkpoint callback's best score) is tested: the choice is made on the
    validation part only.

    Returns:
        the final metrics: ``train/*`` and ``val/*`` of the last epoch, and ``test/*`` of the
        best checkpoint (by the checkpoint callback's monitored metric); with a choice, those of
        the chosen model, and ``select/<value>_val_loss``, each candidate's best score.
    """
    choice = model_choice(cfg)
    if choice is None:
        return _test(*_fit(cfg))
    key = f"model.{choice.argument}"
    if not cfg.train or cfg.get("ckpt_path"):
        raise ValueError(
            f"{key}={choice.asked} is chosen by fitting from scratch (train=true, no ckpt_path); "
            f"to test or resume a checkpoint set {key} to the one it was trained with "
            f"({' or '.join(choice.values)})"
        )
    several = len(choice.values) > 1  # one candidate: the run writes where a plain one would
    runs = {value: _fit(_with_choice(cfg, choice, value, several)) for value in choice.values}
    scores = {
        f"select/{value}_val_loss": _validation_score(trainer, choice)
        for value, (*_, trainer) in runs.items()
    }
    metrics = _test(*runs[chosen_value(scores)])
    metrics.update(scores)
    return metrics


def model_choice(cfg: DictConfig) -> ModelChoice | None:
    """The model argument that the task of ``cfg`` chooses on the validation data for
    ``cfg.model`` (:meth:`~seqmodels.tasks.base.SequenceTask.model_choice`), or None."""
    try:
        task_class = get_class(cfg.task._target_)
    except Exception:  # a bad _target_: building the task reports it, with the config key
        return None
    choose = getattr(task_class, "model_choice", None)
    return choose(cfg.model) if choose is not None else None


def chosen_value(metrics: dict[str, float]) -> str | None:
    """The candidate a run with a model choice tested (lowest ``select/<value>_val_loss``), or
    ``None`` for a run without a choice."""
    scores = {
        key.removeprefix("select/").removesuffix("_val_loss"): value
        for key, value in metrics.items()
        if key.startswith("select/")
    }
    return min(scores, key=scores.get) if scores else None


def chosen_norm(metrics: dict[str, float]) -> str | None:
    """Deprecated name of :func:`chosen_value`."""
    warnings.warn(
        "seqmodels.train.chosen_norm is deprecated: use seqmodels.train.chosen_value",
        DeprecationWarning,
        stacklevel=2,
    )
    return chosen_value(metrics)


def norm_candidates(cfg: DictConfig) -> list[str]:
    """Deprecated: the candidates of ``model.norm=auto`` are ``model_choice(cfg).values``."""
    warnings.warn(
        "seqmodels.train.norm_candidates is deprecated: use seqmodels.train.model_choice",
        DeprecationWarning,
        stacklevel=2,
    )
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.model.norm = "auto"
    choice = model_choice(cfg)
    return list(choice.values) if choice is not None else []


def _with_choice(
    cfg: DictConfig, choice: ModelChoice, value: str, subdirectory: bool
) -> DictConfig:
    """``cfg`` with the model argument set to ``value``, writing under
    ``<output_dir>/<argument>_<value>`` if asked."""
    cfg = copy.deepcopy(cfg)
    output_dir = str(cfg.paths.output_dir)  # resolved now: the copy may leave Hydra's context
    with open_dict(cfg):
        cfg.model[choice.argument] = value
        if subdirectory:
            cfg.paths.output_dir = f"{output_dir}/{choice.argument}_{value}"
        else:
            cfg.paths.output_dir = output_dir
    return cfg


def _validation_score(trainer: L.Trainer, choice: ModelChoice) -> float:
    """The checkpoint callback's best score, or the last value of its monitored metric when it
    saved nothing (``fast_dev_run``)."""
    callback = trainer.checkpoint_callback
    if callback is not None and callback.best_model_score is not None:
        return float(callback.best_model_score)
    if callback is not None and callback.monitor in trainer.callback_metrics:
        return float(trainer.callback_metrics[callback.monitor])
    raise ValueError(
        f"model.{choice.argument}={choice.asked} chooses by the checkpoint callback's monitored "
        "validation metric: keep callbacks.model_checkpoint with a monitor that the task logs"
    )


def _fit(cfg: DictConfig) -> tuple[DictConfig, L.LightningModule, SequenceDataModule, L.Trainer]:
    L.seed_everything(cfg.seed, workers=True)
    task, datamodule = build_task_and_data(cfg)
    trainer = build_trainer(cfg, store_config=True)
    if cfg.train:
        trainer.fit(task, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return cfg, task, datamodule, trainer


def _test(
    cfg: DictConfig, task: L.LightningModule, datamodule: SequenceDataModule, trainer: L.Trainer
) -> dict[str, float]:
    metrics = _floats(trainer.callback_metrics) if cfg.train else {}
    if cfg.test:
        best = trainer.checkpoint_callback and trainer.checkpoint_callback.best_model_path
        for results in trainer.test(task, datamodule=datamodule, ckpt_path=best or None):
            metrics.update(_floats(results))
    _log_hparams(trainer, cfg, metrics)
    return metrics


def _floats(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items()}


def run_hparams(cfg: DictConfig) -> dict[str, str | int | float | bool]:
    """The run's settings as TensorBoard's HPARAMS tab lists them: flat ``group/key`` names.

    First the experiment (``cfg.name``), the model, task and data classes, then every setting of
    ``data``, ``model`` and ``task`` (a nested ``_target_`` becomes its class name, e.g.
    ``task/optimizer: Adam`` beside ``task/optimizer/lr``), the seed and the trainer's limits.
    Values that are not numbers, strings or booleans (lists, None) are written as strings.

    >>> cfg = OmegaConf.create({"name": "sine", "seed": 1, "trainer": {"max_epochs": 3},
    ...     "data": {"_target_": "a.SeriesDataModule", "seq_len": 5},
    ...     "model": {"_target_": "b.SequenceRegressor", "cell": "gru"},
    ...     "task": {"_target_": "c.RegressionTask",
    ...              "optimizer": {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}}})
    >>> run_hparams(cfg)  # doctest: +NORMALIZE_WHITESPACE
    {'experiment': 'sine', 'model': 'SequenceRegressor', 'task': 'RegressionTask',
     'data': 'SeriesDataModule', 'model/cell': 'gru', 'task/optimizer': 'Adam',
     'task/optimizer/lr': 0.01, 'data/seq_len': 5, 'seed': 1, 'trainer/max_epochs': 3}
    """
    params: dict[str, Any] = {"experiment": cfg.get("name")}
    groups = {
        key: OmegaConf.to_container(cfg[key], resolve=True) for key in ("model", "task", "data")
    }
    for key, group in groups.items():
        params[key] = _class_name(group)
    for key, group in groups.items():
        params.update(_flat(group, key))
    params["seed"] = cfg.get("seed")
    for key in ("max_epochs", "max_steps", "max_time", "precision", "gradient_clip_val", "devices"):
        if cfg.trainer.get(key) is not None:
            params[f"trainer/{key}"] = cfg.trainer[key]
    return {
        name: value if isinstance(value, (bool, int, float, str)) else str(value)
        for name, value in params.items()
    }


def _class_name(node: Any) -> str | None:
    if isinstance(node, dict) and isinstance(node.get("_target_"), str):
        return node["_target_"].rsplit(".", 1)[-1]
    return None


def _flat(node: Any, prefix: str) -> dict[str, Any]:
    """``{"a/b": 1}`` for ``{"a": {"b": 1}}``; a nested ``_target_`` as its class name."""
    if not isinstance(node, dict):
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("_target_", "_partial_", "_convert_", "_recursive_"):
            continue
        name = f"{prefix}/{key}"
        if _class_name(value) is not None:
            flat[name] = _class_name(value)
        flat.update(_flat(value, name) if isinstance(value, dict) else {name: value})
    return flat


def _log_hparams(trainer: L.Trainer, cfg: DictConfig, metrics: dict[str, float]) -> None:
    """Write the run's settings (:func:`run_hparams`) with its final metrics to TensorBoard's
    HPARAMS tab, and the settings to the run's ``hparams.yaml``.

    The final metrics are written as scalars at the run's last step, where they end the curves
    (TensorBoard's HPARAMS table shows each metric's last value). The task's own
    hyperparameters, which hold data-dependent values such as vocabularies, stay in its
    checkpoint.
    """
    if not trainer.is_global_zero:
        return
    params = run_hparams(cfg)
    finite = {name: value for name, value in metrics.items() if math.isfinite(value)}
    for logger in trainer.loggers:
        if not isinstance(logger, TensorBoardLogger):
            continue
        writer = logger.experiment
        for name, value in finite.items():
            writer.add_scalar(name, value, trainer.global_step)
        file_writer = writer._get_file_writer()  # as SummaryWriter.add_hparams and Lightning do
        for summary in hparams(params, finite):
            file_writer.add_summary(summary, trainer.global_step)
        writer.flush()
        with open(Path(logger.log_dir) / logger.NAME_HPARAMS_FILE, "w") as file:
            file.write(OmegaConf.to_yaml(OmegaConf.create(params)))


@rank_zero_only
def _report(metrics: dict[str, float], cfg: DictConfig) -> None:
    output_dir = Path(cfg.paths.output_dir)
    print("\nFinal metrics:")
    for name, value in sorted(metrics.items()):
        print(f"  {name:28s} {value:.6g}")
    print(f"Run directory:    {output_dir}")
    choice, value = model_choice(cfg), chosen_value(metrics)
    if choice is not None and value is not None and len(choice.values) > 1:
        name = choice.argument
        print(
            f"model.{name}={choice.asked}:  tested {name}={value}; each candidate's run in "
            f"{output_dir}/{name}_*"
        )
        output_dir = output_dir / f"{name}_{value}"
    if "tensorboard" in cfg.get("logger", {}):
        print(f"TensorBoard logs: {output_dir / 'tensorboard'}")
        print(f"  view with:      tensorboard --logdir {Path(cfg.paths.output_dir).parents[1]}")


# Errors that come from the job's settings or data, whose message says what to change: shown
# without a traceback (HYDRA_FULL_ERROR=1 shows it).
USER_ERRORS = (
    OmegaConfBaseException,
    HydraException,
    ValueError,
    FileNotFoundError,
    FloatingPointError,
)


@contextmanager
def job_errors(output_dir: str | Path | None) -> Iterator[None]:
    """Report the errors of a job run from the command line as users need them.

    * An error of :data:`USER_ERRORS` (a config error, a data error, a non-finite loss) prints
      its message alone, then exits with status 1; the run's log file (``train.log``) gets the
      message with the traceback. With ``HYDRA_FULL_ERROR=1`` it is raised as it is, and Hydra
      prints the full traceback.
    * Any failure removes what the run created but left empty under ``output_dir`` (folders,
      TensorBoard files without a value), so that a failed run leaves its log, its config
      (``.hydra/``) and whatever it wrote that holds data, such as the checkpoints to resume.
    """
    start = time.time()
    try:
        yield
    except Exception as error:
        if output_dir is not None:
            remove_empty_outputs(Path(output_dir), since=start)
        if not isinstance(error, USER_ERRORS) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        message = _message(error)
        for handler in logging.getLogger().handlers:  # the run's log file: with the traceback
            if isinstance(handler, logging.FileHandler):
                handler.handle(
                    logging.LogRecord(
                        __name__, logging.ERROR, __file__, 0, message, None, sys.exc_info()
                    )
                )
        print(
            f"Error: {message}\n(set HYDRA_FULL_ERROR=1 for the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None


def _message(error: Exception) -> str:
    """The message of an error; for an error raised while Hydra instantiated an object, the
    error inside it, with the config key that was being built."""
    cause = error.__cause__
    if isinstance(error, InstantiationException) and isinstance(cause, USER_ERRORS):
        last = str(error).strip().splitlines()[-1]
        where = f" (building {last.removeprefix('full_key: ')})" if "full_key:" in last else ""
        return f"{_message(cause)}{where}"
    return f"{type(error).__name__}: {error}"


def remove_empty_outputs(output_dir: Path, since: float | None = None) -> None:
    """Remove the empty folders and the TensorBoard event files that hold no value under
    ``output_dir`` (which itself stays).

    Args:
        output_dir: a run directory.
        since: a time (``time.time()``); entries of ``output_dir`` older than it, which the run
            did not create, are left alone, with what they hold.
    """
    if not output_dir.is_dir():
        return
    for entry in output_dir.iterdir():
        if since is not None and entry.lstat().st_ctime < since - 1:
            continue
        if entry.is_symlink():
            continue
        if entry.is_file():
            if entry.name.startswith("events.out.tfevents.") and not _holds_events(entry):
                entry.unlink()
            continue
        paths = sorted(entry.rglob("*"), key=lambda path: len(path.parts), reverse=True)
        for path in paths:
            if path.is_file() and path.name.startswith("events.out.tfevents."):
                if not _holds_events(path):
                    path.unlink()
        for path in [*paths, entry]:
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()


def _holds_events(path: Path) -> bool:
    """Whether a TensorBoard event file holds more than its header (a summary or a graph)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    try:
        return any(
            event.HasField("summary") or event.HasField("graph_def")
            for event in EventFileLoader(str(path)).Load()
        )
    except Exception:  # unreadable: keep it
        return True


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="train")
def main(cfg: DictConfig) -> float | None:
    """Command line entry point; returns ``cfg.optimized_metric`` for sweepers (Optuna)."""
    with job_errors(HydraConfig.get().runtime.output_dir):
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
