"""What the heads share around their recurrent layers: the final state read the same way,
padded batches encoded through ``lengths``, dropout between layers, eval mode for inference.

Every head (:class:`~seqmodels.models.SequenceRegressor`,
:class:`~seqmodels.models.SequenceClassifier`, :class:`~seqmodels.models.CharLM`,
:class:`~seqmodels.models.Seq2Seq`) builds its layers with :func:`seqmodels.build_recurrent`,
whose final states follow ``torch.nn``'s layout: ``(D * num_layers, N, H)``, index
``D * layer + direction``, a tuple ``(h, c)`` for LSTM cells (:data:`seqmodels.cells.State`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqmodels.bidirectional import merge_directions
from seqmodels.cells import State

__all__ = [
    "State",
    "dropout_between_layers",
    "evaluating",
    "final_hidden",
    "merge_layer_directions",
    "run_padded",
]


def merge_layer_directions(hidden: Tensor, merge: str) -> Tensor:
    """Each layer's forward and backward final states merged, as the outputs are.

    Shape: ``(2 * num_layers, N, H)`` -> ``(num_layers, N, H')``, ``H' = 2H`` for ``"concat"``.

    Example::

        >>> merge_layer_directions(torch.randn(4, 3, 5), "concat").shape
        torch.Size([2, 3, 10])
    """
    return merge_directions(hidden[0::2], hidden[1::2], merge)  # even rows forward, odd backward


def final_hidden(state: State, bidirectional: bool = False, merge: str = "concat") -> Tensor:
    """The top layer's final hidden state ``(N, H')`` (``h`` of an LSTM's ``(h, c)``).

    For a bidirectional layer, the forward direction's state after the last valid step merged
    with the backward direction's state after the first, so both have read the whole sequence.

    Example::

        >>> h_n = torch.randn(2 * 3, 4, 5)  # bidirectional, 3 layers, N = 4, H = 5
        >>> final_hidden(h_n, bidirectional=True, merge="sum").shape
        torch.Size([4, 5])
    """
    hidden = state[0] if isinstance(state, tuple) else state  # (D * num_layers, N, H)
    if bidirectional:
        return merge_layer_directions(hidden[-2:], merge)[0]
    return hidden[-1]


def run_padded(
    layer: nn.Module, input: Tensor, lengths: Tensor | None, hx: State | None = None
) -> tuple[Tensor, State]:
    """Run a :func:`~seqmodels.build_recurrent` layer over a padded batch ``(N, L, F)``.

    Each sequence is read up to its length only: final states are those of its last valid step
    and outputs at padded steps are 0. seqmodels layers take ``lengths=``; ``torch.nn`` layers
    (``impl="torch"``) get a packed batch. ``lengths=None`` reads every step.

    Example::

        >>> from seqmodels import build_recurrent
        >>> layer = build_recurrent("gru", 3, 4, impl="torch")
        >>> output, h_n = run_padded(layer, torch.randn(2, 5, 3), torch.tensor([5, 2]))
        >>> output[1, 2:].abs().sum().item(), h_n.shape
        (0.0, torch.Size([1, 2, 4]))
    """
    if lengths is None:
        return layer(input, hx)
    if not isinstance(layer, nn.RNNBase):
        return layer(input, hx, lengths=lengths)
    packed = pack_padded_sequence(input, lengths.cpu(), batch_first=True, enforce_sorted=False)
    output, state = layer(packed, hx)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=input.size(1))
    return output, state


def dropout_between_layers(dropout: float, num_layers: int) -> float:
    """The recurrent layers' ``dropout`` for a head whose ``dropout`` also acts on its inputs
    and outputs: between stacked layers only, so 0 for one layer (where ``torch.nn`` warns)."""
    return dropout if num_layers > 1 else 0.0


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """Eval mode inside the block (no dropout while decoding or sampling), the previous mode
    restored after it, even on error.

    Example::

        >>> model = nn.Dropout(0.5)
        >>> with evaluating(model):
        ...     model.training
        False
        >>> model.training
        True
    """
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
