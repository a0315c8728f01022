"""Model spec dicts: a model described by plain data, so checkpoints can rebuild it (torch only).

A spec is ``{"_target_": "dotted.path.Class", **kwargs}``: the Hydra convention, read here with
importlib, so neither Hydra nor Lightning is needed to build a model from a checkpoint.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from torch import nn

from seqmodels.models.seq2seq.legacy import upgrade_spec

__all__ = ["build_model"]


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
