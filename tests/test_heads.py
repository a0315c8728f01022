"""The plumbing every head shares (seqmodels.models.heads): final states, padded batches, modes."""

import pytest
import torch
from torch import nn

from seqmodels import build_recurrent
from seqmodels.models.heads import evaluating, final_hidden, run_padded


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_run_padded_reads_each_sequence_as_if_alone_with_either_implementation(cell, bidirectional):
    torch.manual_seed(0)
    ours = build_recurrent(cell, 3, 4, num_layers=2, bidirectional=bidirectional)
    theirs = build_recurrent(cell, 3, 4, num_layers=2, bidirectional=bidirectional, impl="torch")
    theirs.load_state_dict(ours.state_dict())
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 2, 4])
    output, state = run_padded(ours, x, lengths)
    torch_output, torch_state = run_padded(theirs, x, lengths)
    torch.testing.assert_close(output, torch_output)
    torch.testing.assert_close(state, torch_state)
    for i, n in enumerate(lengths.tolist()):
        alone, alone_state = ours(x[i : i + 1, :n])
        torch.testing.assert_close(output[i, :n], alone[0])
        assert (output[i, n:] == 0).all()
        torch.testing.assert_close(
            final_hidden(state, bidirectional)[i], final_hidden(alone_state, bidirectional)[0]
        )


@pytest.mark.parametrize("merge", ["concat", "sum", "max"])
def test_final_hidden_of_a_bidirectional_layer_is_both_directions_after_the_whole_sequence(merge):
    torch.manual_seed(0)
    layer = build_recurrent("lstm", 3, 4, num_layers=2, bidirectional=True)  # outputs side by side
    output, state = layer(torch.randn(2, 5, 3))
    forward, backward = output[:, -1, :4], output[:, 0, 4:]  # forward after L, backward after 1
    expected = {"concat": torch.cat([forward, backward], -1), "sum": forward + backward,
                "max": torch.maximum(forward, backward)}[merge]  # fmt: skip
    torch.testing.assert_close(final_hidden(state, bidirectional=True, merge=merge), expected)


def test_final_hidden_of_a_unidirectional_layer_is_the_last_output():
    output, state = build_recurrent("gru", 3, 4, num_layers=3)(torch.randn(2, 5, 3))
    torch.testing.assert_close(final_hidden(state), output[:, -1])


def test_evaluating_restores_the_mode_even_after_an_error():
    model = nn.Sequential(nn.Dropout(0.5))
    with pytest.raises(RuntimeError, match="boom"), evaluating(model):
        assert not model.training and not model[0].training
        raise RuntimeError("boom")
    assert model.training and model[0].training
