r"""``WindowMLP``: the multilayer perceptron baseline that forecasts from a flattened window."""

from __future__ import annotations

from itertools import pairwise

from torch import Tensor, nn

from seqmodels.models.forecaster import WindowForecaster

__all__ = ["WindowMLP"]


class WindowMLP(WindowForecaster):
    r"""A window of ``L`` steps, flattened, through ReLU layers to the next value(s).

    .. math::
        o = W_k \,\mathrm{ReLU}(\cdots \mathrm{ReLU}(W_1 \operatorname{vec}(z) + b_1) \cdots) + b_k

    with :math:`z` the window normalised as in
    :class:`~seqmodels.models.forecaster.WindowForecaster`. The baseline a recurrent model should
    beat on the same windows;
    :class:`~seqmodels.tasks.regression.task.RegressionTask` trains one beside its model.

    Args:
        input_size: features per time step.
        output_size: values predicted per window.
        seq_len: window length ``L`` (the first layer reads ``L * input_size`` values).
        hidden_size: width of each hidden layer.
        num_layers: hidden layers.
        norm, difference, affine, season: per-window normalisation, see
            :class:`~seqmodels.models.forecaster.WindowForecaster`.

    Shape:
        - input: ``(N, seq_len, input_size)``
        - output: ``(N, output_size)``

    Example:
        >>> model = WindowMLP(seq_len=12)
        >>> model(torch.randn(8, 12, 1)).shape
        torch.Size([8, 1])
    """

    def __init__(
        self,
        input_size: int = 1,
        output_size: int = 1,
        seq_len: int = 12,
        hidden_size: int = 64,
        num_layers: int = 2,
        norm: str = "last",
        difference: bool = False,
        affine: bool = False,
        season: int | None = None,
    ) -> None:
        super().__init__(input_size, output_size, seq_len, norm, difference, affine, season=season)
        sizes = [seq_len * input_size] + [hidden_size] * num_layers
        layers: list[nn.Module] = []
        for inputs, outputs in pairwise(sizes):
            layers += [nn.Linear(inputs, outputs), nn.ReLU()]
        self.layers = nn.Sequential(*layers, nn.Linear(sizes[-1], output_size))

    def predict(self, z: Tensor) -> Tensor:
        return self.layers(z.flatten(1))  # (N, L, F) -> (N, L * F) -> (N, output_size)
