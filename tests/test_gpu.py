"""On CUDA: seqmodels equals torch.nn (cuDNN) on both paths, runs cuDNN's kernel, and trains a
preset in mixed precision. Skipped without CUDA (``pytest -m gpu`` selects these)."""

import warnings

import pytest
import torch
from hydra import compose, initialize_config_module
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import seqmodels
from seqmodels.train import CONFIG_PACKAGE, train

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

LAYERS = {
    "lstm": (seqmodels.LSTM, nn.LSTM),
    "gru": (seqmodels.GRU, nn.GRU),
    "rnn": (seqmodels.RNN, nn.RNN),
}


@pytest.mark.parametrize("impl", ["auto", "cells"])
@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("packed", [False, True])
def test_cuda_outputs_and_gradients_match_cudnn(kind, bidirectional, packed, impl):
    ours_class, torch_class = LAYERS[kind]
    reference = torch_class(8, 16, num_layers=2, bidirectional=bidirectional).cuda()
    ours = ours_class(8, 16, num_layers=2, bidirectional=bidirectional, impl=impl)
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


@pytest.mark.parametrize("impl", ["auto", "cells"])
@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cuda_autocast_training_step_matches_cudnn(kind, dtype, impl):
    """Mixed precision on the GPU: same output dtype as torch.nn, float32 master gradients."""
    ours_class, torch_class = LAYERS[kind]
    reference = torch_class(8, 16, num_layers=2, bidirectional=True).cuda()
    ours = ours_class(8, 16, num_layers=2, bidirectional=True, impl=impl).cuda()
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


@pytest.mark.parametrize("kind", LAYERS)
def test_auto_runs_cudnn_with_flat_weights_and_no_warning(kind):
    """The profiler sees cuDNN's RNN kernel, as for torch.nn; the weights sit in one flat buffer
    (no 'not part of single contiguous chunk' warning, no copy per call)."""
    ours = LAYERS[kind][0](8, 16, num_layers=2, bidirectional=True).cuda()
    x = torch.randn(12, 5, 8, device="cuda")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            ours(x)[0].sum().backward()
    names = {event.name for event in profile.events()}
    assert "aten::_cudnn_rnn" in names, sorted(names)
    ours.flatten_parameters()  # what code written for cuDNN calls: harmless, idempotent


def test_cells_path_has_double_backward_on_cuda():
    """cuDNN's RNN has no double backward (as for torch.nn); impl='cells' serves it."""
    layer = seqmodels.LSTM(4, 6, impl="cells").cuda()
    output, _ = layer(torch.randn(5, 3, 4, device="cuda"))
    (grad,) = torch.autograd.grad(output.sum(), layer.weight_hh_l0, create_graph=True)
    grad.square().sum().backward()
    assert layer.weight_hh_l0.grad is not None


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
def test_a_preset_trains_on_the_gpu_in_mixed_precision(precision, tmp_path):
    overrides = [
        "experiment=sine", "trainer=gpu", f"trainer.precision={precision}",
        "trainer.max_epochs=2", "trainer.limit_train_batches=5", "trainer.limit_val_batches=2",
        f"paths.output_dir={tmp_path}",
    ]  # fmt: skip
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    metrics = train(cfg)
    assert all(torch.isfinite(torch.as_tensor(value)) for value in metrics.values())
