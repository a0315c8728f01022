"""On CUDA: seqmodels equals torch.nn (cuDNN) and moves between devices. Skipped without CUDA."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import seqmodels

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

LAYERS = {
    "lstm": (seqmodels.LSTM, nn.LSTM),
    "gru": (seqmodels.GRU, nn.GRU),
    "rnn": (seqmodels.RNN, nn.RNN),
}


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_cuda_outputs_and_gradients_match_cudnn(kind, bidirectional, packed):
    ours_class, torch_class = LAYERS[kind]
    reference = torch_class(8, 16, num_layers=2, bidirectional=bidirectional).cuda()
    ours = ours_class(8, 16, num_layers=2, bidirectional=bidirectional)
    ours = ours.cuda()  # moved after construction: the cells must follow
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(12, 5, 8, device="cuda")
    lengths = torch.tensor([12, 3, 7, 1, 9])
    results = []
    for layer in (ours, reference):
        leaf = x.clone().requires_grad_()
        input = pack_padded_sequence(leaf, lengths, enforce_sorted=False) if packed else leaf
        output, _ = layer(input)
        output = output.data if packed else output
        output.square().sum().backward()
        results.append([output, leaf.grad, *(p.grad for p in layer.parameters())])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_lengths_may_live_on_the_gpu():
    layer = seqmodels.GRU(4, 6, batch_first=True).cuda()
    output, h_n = layer(
        torch.randn(3, 5, 4, device="cuda"), lengths=torch.tensor([5, 2, 4], device="cuda")
    )
    assert output.device.type == h_n.device.type == "cuda"


@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast_training_step_matches_cudnn(kind, dtype):
    """Mixed precision on the GPU: same output dtype as torch.nn, float32 master gradients."""
    ours_class, torch_class = LAYERS[kind]
    reference = torch_class(8, 16, num_layers=2, bidirectional=True).cuda()
    ours = ours_class(8, 16, num_layers=2, bidirectional=True).cuda()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(12, 5, 8, device="cuda")
    results = []
    for layer in (ours, reference):
        leaf = x.clone().requires_grad_()
        with torch.autocast("cuda", dtype=dtype):
            output, _ = layer(leaf)
        output.float().square().sum().backward()
        results.append([output, leaf.grad, *(p.grad for p in layer.parameters())])
    for got, want in zip(*results, strict=True):
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.float(), want.float(), atol=5e-2, rtol=5e-2)
