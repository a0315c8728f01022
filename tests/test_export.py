"""scripts/export.py: a trained model to ONNX or .pt2, checked against PyTorch."""

import runpy
from pathlib import Path

import pytest
import torch

from seqmodels.models.spec import build_model

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "export.py"
MODELS = {
    "regressor": {"_target_": "seqmodels.models.SequenceRegressor", "input_size": 2, "cell": "lstm",
                  "hidden_size": 8, "num_layers": 2, "bidirectional": True, "merge": "sum"},
    "classifier": {"_target_": "seqmodels.models.SequenceClassifier", "vocab_size": 20,
                   "num_classes": 3, "embedding_dim": 6, "cell": "gru", "hidden_size": 8,
                   "bidirectional": True, "pooling": "max"},
    "char_lm": {"_target_": "seqmodels.models.CharLM", "vocab_size": 12, "embedding_dim": 6,
                "cell": "lstm", "hidden_size": 8, "num_layers": 2},
}  # fmt: skip


def checkpoint(tmp_path, spec):
    """A checkpoint as a task writes it: the model's weights under ``model.`` and its spec."""
    torch.manual_seed(0)
    model = build_model(spec)
    path = tmp_path / "model.ckpt"
    state = {f"model.{key}": value for key, value in model.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": {"model": spec}}, path)
    return path


@pytest.fixture
def export_main():
    return runpy.run_path(str(SCRIPT))["main"]


@pytest.mark.parametrize("kind", MODELS)
@pytest.mark.parametrize("fmt", ["pt2", "onnx"])
def test_export_writes_a_file_that_reproduces_the_model(kind, fmt, tmp_path, export_main, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("onnxscript")
    out = tmp_path / f"model.{fmt}"
    difference = export_main(
        [
            str(checkpoint(tmp_path, MODELS[kind])),
            "--format",
            fmt,
            "--out",
            str(out),
            "--seq-len",
            "6",
        ]
    )
    assert out.is_file() and difference < 1e-5
    assert "largest difference from PyTorch on a batch of 5" in capsys.readouterr().out


def test_export_errors_name_the_problem(tmp_path, export_main, capsys):
    with pytest.raises(SystemExit):
        export_main([str(tmp_path / "missing.ckpt"), "--format", "pt2", "--out", "x.pt2"])
    assert "checkpoint not found" in capsys.readouterr().err
    spec = {"_target_": "seqmodels.models.Seq2Seq", "src_vocab_size": 5, "tgt_vocab_size": 5}
    with pytest.raises(SystemExit):
        export_main([str(checkpoint(tmp_path, spec)), "--format", "pt2", "--out", "x.pt2"])
    err = capsys.readouterr().err
    assert "its model is a Seq2Seq, not a SequenceRegressor, SequenceClassifier or CharLM" in err
