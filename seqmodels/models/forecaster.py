r"""``WindowForecaster``: the base of the forecasting models, with per-window normalisation.

A model that has only seen training values cannot forecast a level it has never seen if it reads
and writes absolute values (a tanh state and a linear head saturate). Instance normalisation
makes every window look alike: each window is expressed relative to its own level and spread, the
network predicts in those units, and the prediction is mapped back (Kim et al., "Reversible
Instance Normalization", ICLR 2022; neuralforecast's per-window scalers).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["NORMS", "WindowForecaster"]

NORMS = ("none", "last", "mean", "seasonal")


class WindowForecaster(nn.Module):
    r"""Maps a window ``(N, L, F)`` to the next ``output_size`` values of its column 0.

    Subclasses write :meth:`predict`, the network; this class normalises each window and restores
    the prediction. With :math:`x_1, \dots, x_L` the target (column 0) of one window:

    .. math::
        \mu = \begin{cases} x_L & \text{norm = "last"} \\ \bar{x} & \text{norm = "mean"}
        \\ 0 & \text{norm = "none"} \end{cases}, \qquad
        \sigma = \sqrt{\mathrm{Var}(x) + \epsilon} \;(1 \text{ for "none"}), \qquad
        z_t = (x_t - \mu) / \sigma

    ``norm="seasonal"`` reads the window as ``"last"`` does but anchors the forecast at the
    seasonal-naive one, the value one season before each predicted step: with season :math:`s`,
    :math:`\hat{y}_k = x_{L - s + 1 + ((k - 1) \bmod s)} + \sigma o_k`, so the network predicts
    the change from last season's value (for series whose season matters more than their last
    value).

    With ``difference``, the network reads :math:`d_t = z_t - z_{t-1}` (:math:`d_1 = 0`) and
    predicts the steps' changes :math:`\delta_k`, summed onto :math:`z_L`; with ``affine`` (RevIN),
    the network's input is :math:`\gamma z + \beta` and its output goes through the inverse, with
    learnt :math:`\gamma, \beta`. The forecast is :math:`\hat{y}_k = \mu + \sigma o_k`, where
    :math:`o = \mathrm{predict}(z, \text{covariates})`. So ``norm="last"`` predicts the change
    from the last value, in units of the window's spread, and a level outside the training range
    costs nothing. Covariates (columns ``1..F-1``) reach the network as they are.

    Args:
        input_size: features per step ``F`` (1 for a univariate series).
        output_size: values predicted per window (the data's ``horizon``).
        seq_len: window length ``L``, when the network needs it (or to check inputs).
        norm: ``"last"``, ``"mean"``, ``"seasonal"`` (needs ``season``) or ``"none"`` (inputs as
            the data module scaled them).
        difference: read first differences and predict per-step changes.
        affine: learnable RevIN affine map around the network.
        eps: added to the window's variance.
        season: season length, for ``norm="seasonal"``; at most the window length.
    """

    def __init__(
        self,
        input_size: int = 1,
        output_size: int = 1,
        seq_len: int | None = None,
        norm: str = "last",
        difference: bool = False,
        affine: bool = False,
        eps: float = 1e-5,
        season: int | None = None,
    ) -> None:
        super().__init__()
        if norm == "auto":
            raise ValueError(
                "norm='auto' is a choice of the training job (seqmodels.train.train fits 'last' "
                "and 'seasonal' and keeps the better on validation); build the model with one of "
                f"{list(NORMS)}"
            )
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {list(NORMS)}")
        if norm == "seasonal" and (season is None or season < 1 or difference):
            raise ValueError(
                "norm='seasonal' anchors the forecast one season back: it needs season >= 1 "
                f"(got {season}) and difference=False (got {difference})"
            )
        if input_size < 1 or output_size < 1:
            raise ValueError(
                f"input_size and output_size must be positive, got {input_size} and {output_size}"
            )
        self.input_size, self.output_size, self.seq_len = input_size, output_size, seq_len
        self.norm, self.difference, self.eps, self.season = norm, difference, eps, season
        self.affine_weight = nn.Parameter(torch.ones(1)) if affine else None
        self.affine_bias = nn.Parameter(torch.zeros(1)) if affine else None

    def predict(self, z: Tensor) -> Tensor:
        """The network: a normalised window ``(N, L, F)`` to normalised outputs ``(N, H)``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self._check_window(x)
        target = x[..., 0]  # (N, L)
        if self.norm == "none":
            loc, scale = torch.zeros_like(target[:, :1]), torch.ones_like(target[:, :1])
        else:
            loc = target.mean(1, keepdim=True) if self.norm == "mean" else target[:, -1:]
            scale = (target.var(1, keepdim=True, correction=0) + self.eps).sqrt()  # (N, 1)
        z = (target - loc) / scale
        read = torch.diff(z, dim=1, prepend=z[:, :1]) if self.difference else z
        if self.affine_weight is not None:
            read = read * self.affine_weight + self.affine_bias
        out = self.predict(torch.cat((read.unsqueeze(-1), x[..., 1:]), -1))  # (N, output_size)
        if self.affine_weight is not None:
            out = (out - self.affine_bias) / (self.affine_weight + self.eps)
        if self.difference:
            out = z[:, -1:] + out.cumsum(1)
        anchor = self._seasonal_naive(target) if self.norm == "seasonal" else loc
        return anchor + scale * out

    def _seasonal_naive(self, target: Tensor) -> Tensor:
        """``(N, output_size)``: for each predicted step, the window's value one season before."""
        length = target.size(1)
        if self.season > length:
            raise ValueError(f"norm='seasonal': season {self.season} exceeds the window ({length})")
        steps = torch.arange(self.output_size, device=target.device) % self.season
        return target[:, length - self.season + steps]

    def _check_window(self, x: Tensor) -> None:
        length = "L" if self.seq_len is None else self.seq_len
        if (
            x.dim() != 3
            or x.size(-1) != self.input_size
            or (self.seq_len is not None and x.size(1) != self.seq_len)
        ):
            raise ValueError(
                f"{type(self).__name__}: expected input (N, {length}, {self.input_size}), "
                f"got {tuple(x.shape)}"
            )

    @torch.no_grad()
    def forecast(self, x: Tensor, steps: int, future_covariates: Tensor | None = None) -> Tensor:
        """Predict ``steps`` values after the window ``x`` by feeding predictions back in.

        Each prediction of ``output_size`` values is appended to the window (with the covariates
        of those steps) and the oldest steps drop out, so the window keeps its length.

        Args:
            x: the last observed window, ``(N, L, F)``.
            steps: how many future values to predict.
            future_covariates: ``(N, steps, F - 1)``, the covariates of the predicted steps;
                needed when ``F > 1`` (known in advance, such as calendar features, or taken
                from the data in a backtest).

        Returns:
            ``(N, steps)``.
        """
        self._check_window(x)
        if steps < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        covariates = self.input_size - 1
        if future_covariates is None:
            if covariates:
                raise ValueError(
                    f"forecast feeds predictions back as inputs: with {covariates} covariates it "
                    f"needs future_covariates (N, {steps}, {covariates})"
                )
            future_covariates = x.new_zeros(x.size(0), steps, 0)
        if future_covariates.shape != (x.size(0), steps, covariates):
            raise ValueError(
                f"future_covariates must be (N, steps, F - 1) = {(x.size(0), steps, covariates)}, "
                f"got {tuple(future_covariates.shape)}"
            )
        window, predictions, done = x, [], 0
        while done < steps:
            count = min(self.output_size, steps - done)
            prediction = self(window)[:, :count]  # (N, count)
            rows = torch.cat(
                (prediction.unsqueeze(-1), future_covariates[:, done : done + count]), -1
            )
            window = torch.cat((window, rows), 1)[:, -x.size(1) :]  # (N, L, F)
            predictions.append(prediction)
            done += count
        return torch.cat(predictions, 1)
