"""Names that a package provides on first use (PEP 562): lazy exports and deprecated aliases.

A task folder exports its LightningModule (Lightning) beside its predictor (torch only); importing
the predictor imports the folder's ``__init__`` first, so that ``__init__`` must not import the
LightningModule until someone asks for it. Pure Python: no torch, no Lightning.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["alias_module", "lazy_names", "moved_names"]


def lazy_names(
    package: str, exports: Mapping[str, str], moved: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``.

    Args:
        package: the package's ``__name__``.
        exports: name -> the module that defines it (relative to ``package``, e.g. ``".task"``),
            imported when the name is first used.
        moved: deprecated names -> the module that now defines them (absolute); using one warns
            with a :class:`DeprecationWarning` that gives the new path.
    """
    moved = dict(moved or {})

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name], package), name)
        if name in moved:
            warnings.warn(
                f"{package}.{name} moved to {moved[name]}.{name}; the old path is deprecated and "
                "will be removed in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(moved[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__


def moved_names(package: str, moved: Mapping[str, str]) -> Callable[[str], Any]:
    """``__getattr__`` for a module some of whose names moved: see :func:`lazy_names`."""
    return lazy_names(package, {}, moved)[0]


def alias_module(old: str, new: str) -> Callable[[str], Any]:
    """``__getattr__`` for a module ``old`` that moved to ``new``: each name used from ``old``
    comes from ``new``, with a :class:`DeprecationWarning` that gives the new path."""

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):  # the import system's and inspect's probes
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} moved to {new}.{name}; the old path is deprecated and will be removed "
            "in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(new), name)

    return __getattr__
