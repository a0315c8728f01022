r"""``SequenceRegressor``: a recurrent encoder and a linear head predicting the next value(s)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqmodels.bidirectional import merge_directions
from seqmodels.build import build_recurrent, recurrent_output_size

__all__ = ["SequenceRegressor"]


class SequenceRegressor(nn.Module):
    r"""Many-to-one regression: read a window of ``L`` steps, predict the next value(s).

    .. math::
        h_L = \mathrm{RNN}(x_1, \dots, x_L), \qquad \hat{y} = W h_L + b

    where :math:`h_L` is the top layer's final state (for a bidirectional encoder, the forward
    direction's state after step ``L`` merged with the backward direction's state after step 1,
    so both directions have read the whole window). :meth:`forecast` predicts further ahead by
    feeding predictions back as inputs (autoregressive rollout).

    Args:
        input_size: features per time step (1 for a univariate series).
        output_size: values predicted per window (the data's ``horizon``).
        cell: ``"rnn"``, ``"rnn_relu"``, ``"lstm"``, ``"gru"`` or ``"layernorm_lstm"``.
        hidden_size: features of the recurrent state.
        num_layers: stacked recurrent layers.
        dropout: dropout between recurrent layers.
        bidirectional: read the window both ways.
        merge: how the directions combine: ``"concat"``, ``"sum"``, ``"mean"``, ``"max"``,
            ``"mul"``.
        impl: ``"seqmodels"`` or ``"torch"`` (``torch.nn`` layers), see
            :func:`seqmodels.build_recurrent`.

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
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
        merge: str = "concat",
        impl: str = "seqmodels",
    ) -> None:
        super().__init__()
        self.input_size, self.output_size = input_size, output_size
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
        )
        self.head = nn.Linear(recurrent_output_size(hidden_size, bidirectional, merge), output_size)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.size(-1) != self.input_size:
            raise ValueError(
                f"SequenceRegressor: expected input (N, L, {self.input_size}), got {tuple(x.shape)}"
            )
        _, h_n = self.rnn(x)
        h_n = h_n[0] if isinstance(h_n, tuple) else h_n  # LSTM: (h_n, c_n)
        if self.bidirectional:
            # h_n: (2 * num_layers, N, H), the top layer's forward then backward state
            summary = merge_directions(h_n[-2], h_n[-1], self.merge)
        else:
            summary = h_n[-1]  # (N, H)
        return self.head(summary)

    @torch.no_grad()
    def forecast(self, x: Tensor, steps: int) -> Tensor:
        """Predict ``steps`` values after the window ``x`` by feeding predictions back in.

        Each prediction of ``output_size`` values is appended to the window and the oldest
        values drop out, so the window keeps its length. Needs ``input_size == 1``.

        Args:
            x: the last observed window, ``(N, L, 1)``.
            steps: how many future values to predict.

        Returns:
            ``(N, steps)``.
        """
        if self.input_size != 1:
            raise ValueError(
                f"forecast feeds predictions back as inputs, so it needs input_size 1, "
                f"got {self.input_size}"
            )
        if steps < 1:
            raise ValueError(f"steps must be positive, got {steps}")
        window, predictions = x, []
        for _ in range(-(-steps // self.output_size)):  # ceil(steps / output_size)
            prediction = self(window)  # (N, output_size)
            predictions.append(prediction)
            window = torch.cat((window, prediction.unsqueeze(-1)), 1)[:, -x.size(1) :]
        return torch.cat(predictions, 1)[:, :steps]
