r"""``SequenceRegressor``: a recurrent encoder and a linear head forecasting the next value(s)."""

from __future__ import annotations

from torch import Tensor, nn

from seqmodels.build import build_recurrent, recurrent_output_size
from seqmodels.models.forecaster import WindowForecaster
from seqmodels.models.heads import final_hidden

__all__ = ["SequenceRegressor"]


class SequenceRegressor(WindowForecaster):
    r"""Many-to-one regression: read a window of ``L`` steps, predict the next value(s).

    .. math::
        h_L = \mathrm{RNN}(z_1, \dots, z_L), \qquad o = W h_L + b

    where :math:`z` is the window normalised by
    :class:`~seqmodels.models.forecaster.WindowForecaster` (by default relative to its last value,
    so :math:`o` is the change from it) and :math:`h_L` is
    the top layer's final state (for a bidirectional encoder, the forward direction's state after
    step ``L`` merged with the backward direction's state after step 1, so both directions have
    read the whole window). A horizon of several steps is predicted at once by the head (direct,
    ``output_size > 1``) or step by step by :meth:`forecast` (autoregressive rollout).

    Args:
        input_size: features per time step (1 for a univariate series; the target comes first).
        output_size: values predicted per window (the data's ``horizon``).
        seq_len: window length, checked when given (RNNs read any length).
        cell: a cell for :func:`seqmodels.build_recurrent` (``"lstm"``, ``"gru"``, ...).
        hidden_size: features of the recurrent state.
        num_layers: stacked recurrent layers.
        dropout: dropout between recurrent layers.
        bidirectional: read the window both ways.
        merge: how the directions combine: ``"concat"``, ``"sum"``, ``"mean"``, ``"max"``,
            ``"mul"``.
        impl: ``"auto"``, ``"cells"``, ``"fused"`` or ``"torch"`` (``torch.nn`` layers), see
            :func:`seqmodels.build_recurrent`.
        norm, difference, affine, season: per-window normalisation, see
            :class:`~seqmodels.models.forecaster.WindowForecaster`.
        highway: add a linear map of the window's target to the output, :math:`o = W h_L + b +
            A z_{1..L}` (the autoregressive "highway" of LSTNet, Lai et al. 2018): the seasonal
            naive and persistence forecasts are such maps, so the RNN learns the rest. Needs
            ``seq_len``.
        recurrent_dropout, weight_drop, zoneout: the recurrent layers' regularisers, see
            :class:`seqmodels.Recurrent` (not with ``impl="torch"``).

    Shape:
        - input: ``(N, L, input_size)``
        - output: ``(N, output_size)``

    Example:
        >>> model = SequenceRegressor(cell="gru", hidden_size=16)
        >>> model(torch.randn(8, 50, 1)).shape
        torch.Size([8, 1])
        >>> model.forecast(torch.randn(8, 50, 1), steps=20).shape
        torch.Size([8, 20])
    """

    def __init__(
        self,
        input_size: int = 1,
        output_size: int = 1,
        seq_len: int | None = None,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
        impl: str = "auto",
        norm: str = "last",
        difference: bool = False,
        affine: bool = False,
        season: int | None = None,
        highway: bool = False,
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__(input_size, output_size, seq_len, norm, difference, affine, season=season)
        if highway and seq_len is None:
            raise ValueError("highway=True needs seq_len, the window length it reads")
        self.bidirectional, self.merge = bidirectional, merge
        self.rnn = build_recurrent(
            cell,
            input_size,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout,
            bidirectional=bidirectional,
            merge=merge,
            batch_first=True,
            impl=impl,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )
        self.head = nn.Linear(recurrent_output_size(hidden_size, bidirectional, merge), output_size)
        self.highway = nn.Linear(seq_len, output_size) if highway else None

    def predict(self, z: Tensor) -> Tensor:
        _, h_n = self.rnn(z)
        summary = final_hidden(h_n, self.bidirectional, self.merge)  # (N, H')
        if self.highway is None:
            return self.head(summary)
        return self.head(summary) + self.highway(z[..., 0])  # target (N, L) -> (N, output_size)
