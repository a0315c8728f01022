r"""Global scaling of a series' columns, fitted on the training part: min-max or standard.

Both are affine per column, :math:`x' = (x - \text{shift}) / \text{scale}`:

* ``"minmax"``: ``[low, high]`` onto ``[-1, 1]``, shift :math:`(low + high) / 2`, scale
  :math:`(high - low) / 2`;
* ``"standard"``: shift the mean, scale the standard deviation;
* ``"none"``: shift 0, scale 1.

A constant target cannot be scaled (an error); a constant covariate column (say a category that
never occurs in the training part) keeps scale 1.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["SCALINGS", "Scaler"]

SCALINGS = ("minmax", "standard", "none")


class Scaler:
    r"""Per-column affine scaling :math:`x' = (x - \text{shift}) / \text{scale}`.

    Args:
        shift, scale: one value per column (floats for a single column).

    Example:
        >>> scaler = Scaler.fit(torch.tensor([2.0, 4.0, 6.0]), "minmax")
        >>> scaler.transform(torch.tensor([2.0, 6.0]))
        tensor([-1.,  1.])
        >>> scaler.inverse(torch.tensor([0.0]))
        tensor([4.])
    """

    def __init__(self, shift: Tensor | float = 0.0, scale: Tensor | float = 1.0) -> None:
        self.shift = torch.as_tensor(shift, dtype=torch.float32)
        self.scale = torch.as_tensor(scale, dtype=torch.float32)
        if not (self.scale > 0).all():
            raise ValueError(f"Scaler needs positive scales, got {self.scale.tolist()}")

    @classmethod
    def fit(cls, values: Tensor, kind: str = "minmax") -> Scaler:
        """Fit on ``values`` of shape ``(T,)`` or ``(T, F)`` (column 0 is the target).

        Raises:
            ValueError: unknown ``kind``, or a constant target (column 0).
        """
        if kind not in SCALINGS:
            raise ValueError(f"unknown scaling {kind!r}; choose one of {list(SCALINGS)}")
        values = values.double()
        if kind == "minmax":
            low, high = values.amin(0), values.amax(0)
            shift, scale = (low + high) / 2, (high - low) / 2
        elif kind == "standard":
            shift, scale = values.mean(0), values.std(0, correction=0)
        else:
            shift, scale = torch.zeros_like(values[0]), torch.ones_like(values[0])
        target_scale = scale if scale.dim() == 0 else scale[0]
        if target_scale == 0:
            target = values if values.dim() == 1 else values[:, 0]
            raise ValueError(f"cannot scale a constant series (every value is {target[0].item()})")
        return cls(shift.float(), torch.where(scale > 0, scale, 1.0).float())

    def transform(self, values: Tensor) -> Tensor:
        return (values - self.shift) / self.scale

    def inverse(self, values: Tensor) -> Tensor:
        return values * self.scale + self.shift

    def column(self, index: int) -> Scaler:
        """The scaler of one column: ``Scaler(shift[index], scale[index])``."""
        if self.shift.dim() == 0:
            return self
        return Scaler(self.shift[index], self.scale[index])
