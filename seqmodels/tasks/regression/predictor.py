r"""Forecasting's predictor: :class:`Forecaster`, from a checkpoint with torch only.

No Lightning, no Hydra: this module imports neither, nor the task's LightningModule.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from seqmodels.models.forecaster import WindowForecaster
from seqmodels.models.heads import evaluating
from seqmodels.models.spec import load_checkpoint
from seqmodels.preprocessing import Scaler

__all__ = ["Forecaster"]


class Forecaster:
    r"""Forecasts a univariate series in its own units with a window forecaster.

    The window is scaled as in training, :math:`x' = (x - \text{shift}) / \text{scale}`, rolled
    out by the model's :meth:`~seqmodels.models.WindowForecaster.forecast`, and scaled back.

    Args:
        model: a :class:`~seqmodels.models.WindowForecaster` (e.g. a
            :class:`~seqmodels.models.SequenceRegressor`) with ``input_size == 1``.
        scaler: the target's scaling.

    Example::

        >>> forecaster = Forecaster.from_checkpoint("last.ckpt")  # doctest: +SKIP
        >>> window = torch.tensor([112.0, 118.0, 132.0, 129.0])  # a model with seq_len=4
        >>> forecaster.forecast(window, steps=3)  # doctest: +SKIP
        tensor([121.3, 135.0, 148.2])
    """

    def __init__(self, model: WindowForecaster, scaler: Scaler) -> None:
        if model.input_size != 1:
            raise ValueError(
                f"Forecaster reads univariate windows, but the model takes {model.input_size} "
                "values per step (covariates, whose scaling the checkpoint does not keep); call "
                "model.forecast on windows scaled as in training"
            )
        self.model, self.scaler = model, scaler

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, map_location: str | torch.device = "cpu"
    ) -> Forecaster:
        """The forecaster of a :class:`~seqmodels.tasks.regression.RegressionTask` checkpoint.

        Raises:
            seqmodels.models.spec.CheckpointMismatch: the checkpoint's model is not a
                :class:`~seqmodels.models.WindowForecaster`; the message names its experiment.
        """
        model, hparams = load_checkpoint(path, map_location, WindowForecaster)
        return cls(model, Scaler(hparams["target_shift"], hparams["target_scale"]))

    def forecast(self, window: Tensor, steps: int) -> Tensor:
        """The ``steps`` values after ``window``, in the series' units.

        Args:
            window: the last observed values, ``(L,)`` or ``(N, L)``, in the series' units
                (``L`` is the model's ``seq_len`` when it has one).
            steps: how many values to forecast.

        Returns:
            ``(steps,)`` or ``(N, steps)``.
        """
        if window.dim() not in (1, 2):
            raise ValueError(f"window must be (L,) or (N, L), got shape {tuple(window.shape)}")
        x = self.scaler.transform(window.float()).to(next(self.model.parameters()).device)
        x = x.reshape(-1, window.size(-1), 1)  # (N, L, 1)
        with evaluating(self.model):  # forecast runs without gradients
            scaled = self.model.forecast(x, steps)  # (N, steps)
        forecast = self.scaler.inverse(scaled)
        return forecast[0] if window.dim() == 1 else forecast
