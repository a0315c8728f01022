"""The cell registry: names (and import paths) of cells, and what each stands for.

A cell class registers itself with the :func:`register_cell` decorator; nothing else lists the
cells. :func:`resolve_cell` turns what a user or a config names into a :class:`CellSpec`: a
registered name (``"lstm"``), a :class:`~seqmodels.RecurrentCell` subclass (registered or not),
or the import path of one (``"my_package.cells.MyCell"``, as ``model.cell=`` on the command
line).

Example::

    >>> from seqmodels import RecurrentCell
    >>> @register_cell("scaled_tanh")
    ... class ScaledTanhCell(RecurrentCell):
    ...     pass
    >>> resolve_cell("scaled_tanh").cell is ScaledTanhCell
    True
    >>> del CELLS["scaled_tanh"]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from torch import nn

if TYPE_CHECKING:
    from seqmodels.cells import RecurrentCell
    from seqmodels.recurrent import Recurrent

__all__ = ["CELLS", "CellSpec", "register_cell", "resolve_cell", "cell_names"]

Cell = TypeVar("Cell", bound=type)


@dataclass(frozen=True)
class CellSpec:
    """What a cell name stands for.

    Attributes:
        cell: the seqmodels cell class, unrolled by :class:`~seqmodels.Recurrent` (or by
            ``layer``).
        layer: the seqmodels layer class with ``torch.nn``'s signature (``seqmodels.LSTM``), or
            None (then ``Recurrent(cell, ...)``).
        torch_layer: the ``torch.nn`` twin (for ``impl="torch"``), or None.
        arguments: extra arguments of the layer (``nonlinearity``, the minimal cells' block).
    """

    cell: type[RecurrentCell]
    layer: type[Recurrent] | None = None
    torch_layer: type[nn.Module] | None = None
    arguments: dict[str, object] = field(default_factory=dict)

    @property
    def num_states(self) -> int:
        """How many state tensors the cell carries (2 for an LSTM's ``(h, c)``)."""
        return self.cell.num_states

    @property
    def fused(self) -> bool:
        """Whether torch's fused RNN kernel computes the layer (``impl="auto"`` runs it)."""
        nonlinearity = self.arguments.get("nonlinearity", "tanh")
        return self.layer is not None and nonlinearity in ("tanh", "relu")


#: registered name -> :class:`CellSpec`; filled by :func:`register_cell`
CELLS: dict[str, CellSpec] = {}


def register_cell(
    name: str,
    *,
    layer: type[Recurrent] | None = None,
    torch_layer: type[nn.Module] | None = None,
    arguments: dict[str, object] | None = None,
) -> Callable[[Cell], Cell]:
    """Class decorator: register a cell class under ``name`` (see :class:`CellSpec`)."""

    def register(cell: Cell) -> Cell:
        CELLS[name] = CellSpec(cell, layer, torch_layer, dict(arguments or {}))
        return cell

    return register


def cell_names() -> str:
    """The registered names, quoted and comma-separated (for messages and docs)."""
    return ", ".join(map(repr, CELLS))


def resolve_cell(cell: str | type) -> CellSpec:
    """The :class:`CellSpec` of a registered name, a cell class or a cell's import path.

    Raises:
        ValueError: naming the registered cells, for a name that is neither registered nor an
            importable :class:`~seqmodels.RecurrentCell` subclass.
    """
    from seqmodels.cells import RecurrentCell

    if isinstance(cell, str) and cell in CELLS:
        return CELLS[cell]
    found = _import(cell) if isinstance(cell, str) else cell
    if not (isinstance(found, type) and issubclass(found, RecurrentCell)):
        raise ValueError(
            f"cell must be one of {cell_names()}, a RecurrentCell subclass or the import path "
            f"of one (e.g. 'my_package.cells.MyCell'), got {cell!r}"
        )
    for spec in CELLS.values():  # a registered class: its first entry
        if spec.cell is found:
            return spec
    return CellSpec(found)


def _import(path: str) -> object:
    """The object at ``package.module.Name``, or None where there is none."""
    module_name, _, attribute = path.rpartition(".")
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    return getattr(module, attribute, None)
