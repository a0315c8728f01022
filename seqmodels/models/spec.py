"""Model spec dicts: a model described by plain data, so checkpoints can rebuild it (torch only).

A spec is ``{"_target_": "dotted.path.Class", **kwargs}``: the Hydra convention, read here with
importlib, so neither Hydra nor Lightning is needed to build a model from a checkpoint
(:func:`load_checkpoint`, which each task's predictor uses). A checkpoint also knows the run that
trained it (:func:`trained_run`), and :func:`load_checkpoint` refuses a model of another kind than
the one asked for, naming that run's experiment.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from seqmodels.models.seq2seq.legacy import upgrade_spec

__all__ = [
    "RUN_KEY",
    "CheckpointMismatch",
    "TrainedRun",
    "build_model",
    "load_checkpoint",
    "model_class",
    "run_config_file",
    "trained_run",
]

# the key under which a training run stores its config in each checkpoint (written by
# seqmodels.train.StoreRunConfig): {"name": <the run's name>, "config": {...plain values...}}
RUN_KEY = "seqmodels_run"


class CheckpointMismatch(ValueError):
    """A checkpoint whose model is not of the kind asked for; the message names the experiment
    that trained it (when the checkpoint or its run directory says) and its model class.

    Attributes:
        found: the class of the checkpoint's model.
        run: the run that trained it (:func:`trained_run`), or None when it is not known.
    """

    def __init__(self, message: str, found: type, run: TrainedRun | None) -> None:
        super().__init__(message)
        self.found, self.run = found, run


class TrainedRun(NamedTuple):
    """What a checkpoint says about the run that wrote it (:func:`trained_run`)."""

    name: str | None
    """The run's name: its experiment (``sine``, ``shakespeare``) or a variant's ``name=``."""
    config: dict[str, Any]
    """The run's config as plain data (its ``task``, ``data`` and ``model`` groups, ...)."""
    source: str
    """Where it was read: ``the checkpoint <path>`` or the ``.hydra/config.yaml`` file."""


def run_config_file(path: str | os.PathLike) -> Path | None:
    """The ``.hydra/config.yaml`` of the run that wrote the checkpoint ``path``, or None.

    It is in the folder above ``checkpoints/``, or two folders above it for the candidates of a
    run that chose a model argument on the validation data (``<argument>_<value>/checkpoints``).
    """
    for run_dir in Path(path).resolve().parents[1:3]:
        config_file = run_dir / ".hydra" / "config.yaml"
        if config_file.is_file():
            return config_file
    return None


def trained_run(
    path: str | os.PathLike, checkpoint: Mapping[str, Any] | None = None
) -> TrainedRun | None:
    """The run that wrote the checkpoint ``path``, with torch only: the config stored in the
    checkpoint under :data:`RUN_KEY`, or else the run's ``.hydra/config.yaml``
    (:func:`run_config_file`, read as plain YAML: interpolations stay unresolved strings).
    None when neither exists.

    Args:
        path: the checkpoint file.
        checkpoint: its contents, when already loaded (saves reading the file again).
    """
    if checkpoint is None:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    stored = checkpoint.get(RUN_KEY)
    if isinstance(stored, Mapping) and isinstance(stored.get("config"), Mapping):
        config = dict(stored["config"])
        return TrainedRun(stored.get("name", config.get("name")), config, f"the checkpoint {path}")
    config_file = run_config_file(path)
    if config_file is None:
        return None
    try:
        import yaml  # PyYAML, installed with Hydra; absent from a torch-only environment
    except ImportError:
        return None
    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(config, dict):
        return None
    return TrainedRun(config.get("name"), config, str(config_file))


def model_class(spec: Mapping[str, Any]) -> Any:
    """The class (or other callable) that a model spec ``{"_target_": "dotted.path.Class", ...}``
    builds, imported but not called (older checkpoints' seq2seq paths are read as today's).

    Example:
        >>> model_class({"_target_": "torch.nn.Linear", "in_features": 3, "out_features": 1})
        <class 'torch.nn.modules.linear.Linear'>
    """
    if "_target_" not in spec:
        raise ValueError(
            f"model spec needs a '_target_' key (dotted class path), got keys {list(spec)}"
        )
    target = upgrade_spec(spec)["_target_"]
    module_name, _, class_name = str(target).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"model spec '_target_': cannot import {target!r} ({error})") from error


def build_model(spec: Mapping[str, Any]) -> nn.Module:
    """Build a model from a spec dict ``{"_target_": "dotted.path.Class", **kwargs}``.

    Example:
        >>> build_model({"_target_": "torch.nn.Linear", "in_features": 3, "out_features": 1})
        Linear(in_features=3, out_features=1, bias=True)
    """
    cls = model_class(spec)
    kwargs = upgrade_spec(spec)  # older checkpoints' seq2seq names
    kwargs.pop("_target_")
    return cls(**kwargs)


def load_checkpoint(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    expected: type | tuple[type, ...] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a task checkpoint, in eval mode, and the task's hyperparameters.

    The checkpoint is read with ``torch.load(weights_only=True)`` (plain data only); the model is
    rebuilt from ``hyper_parameters["model"]`` (:func:`~seqmodels.models.spec.build_model`) and
    gets the weights stored under ``model.``.

    Args:
        path: the ``.ckpt`` file.
        map_location: the device to load the model on.
        expected: the model class (or classes) the caller reads; a checkpoint of another model is
            refused before the model is built.

    Raises:
        CheckpointMismatch: the model is not an ``expected`` one. The message names the
            experiment that trained it (:func:`trained_run`), or says that the checkpoint does
            not tell, and the model's class.
        ValueError: not a task checkpoint (no model spec in its hyperparameters).

    Example::

        >>> model, hparams = load_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> hparams["vocab"][:3]  # doctest: +SKIP
        [' ', 'e', 't']
    """
    saved = torch.load(path, map_location=map_location, weights_only=True)
    hparams = saved.get("hyper_parameters") if isinstance(saved, Mapping) else None
    if not isinstance(hparams, Mapping) or not isinstance(hparams.get("model"), Mapping):
        raise ValueError(
            f"{path} is not a checkpoint of a seqmodels training run: it has no model spec "
            "(hyper_parameters['model'])"
        )
    hparams = dict(hparams)
    found = model_class(hparams["model"]) if expected is not None else None
    if isinstance(found, type) and not issubclass(found, expected):  # refused before it is built
        run = trained_run(path, saved)
        raise CheckpointMismatch(_mismatch(path, run, found, expected), found, run)
    model = build_model(hparams["model"])
    if expected is not None and not isinstance(model, expected):  # a factory's model
        run = trained_run(path, saved)
        raise CheckpointMismatch(_mismatch(path, run, type(model), expected), type(model), run)
    prefix = "model."
    weights = {
        k.removeprefix(prefix): v for k, v in saved["state_dict"].items() if k.startswith(prefix)
    }
    model.load_state_dict(weights)
    return model.to(map_location).eval(), hparams


def _mismatch(
    path: str | os.PathLike,
    run: TrainedRun | None,
    found: type,
    expected: type | tuple[type, ...],
) -> str:
    """The message of a :class:`CheckpointMismatch`."""
    classes = expected if isinstance(expected, tuple) else (expected,)
    names = [cls.__name__ for cls in classes]
    wanted = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    model = found.__name__
    if run is None:
        return (
            f"{path} does not say which experiment trained it (no run config stored in it, no "
            f".hydra/config.yaml beside its checkpoints/ folder); its model is a {model}, not a "
            f"{wanted}"
        )
    task = run.config.get("task")
    task = task.get("_target_") if isinstance(task, Mapping) else None
    task = f" (task {str(task).rpartition('.')[2]})" if task else ""
    return (
        f"this checkpoint was trained with experiment={run.name or '<unnamed>'} ({run.source}): "
        f"its model is a {model}{task}, not a {wanted}"
    )
