"""Model spec dicts: a model described by plain data, so checkpoints can rebuild it (torch only).

A spec is ``{"_target_": "dotted.path.Class", **kwargs}``: the Hydra convention, read here with
importlib, so neither Hydra nor Lightning is needed to build a model from a checkpoint
(:func:`load_checkpoint`, which each task's predictor uses).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from seqmodels.models.seq2seq.legacy import upgrade_spec

__all__ = ["build_model", "load_checkpoint"]


def build_model(spec: Mapping[str, Any]) -> nn.Module:
    """Build a model from a spec dict ``{"_target_": "dotted.path.Class", **kwargs}``.

    Example:
        >>> build_model({"_target_": "torch.nn.Linear", "in_features": 3, "out_features": 1})
        Linear(in_features=3, out_features=1, bias=True)
    """
    if "_target_" not in spec:
        raise ValueError(
            f"model spec needs a '_target_' key (dotted class path), got keys {list(spec)}"
        )
    kwargs = upgrade_spec(spec)  # older checkpoints' seq2seq names
    target = kwargs.pop("_target_")
    module_name, _, class_name = str(target).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"model spec '_target_': cannot import {target!r} ({error})") from error
    return cls(**kwargs)


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
