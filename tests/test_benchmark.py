"""scripts/benchmark.py: every table's functions run at tiny sizes and give well-formed rows.

Structure only: these tests never look at the times themselves.
"""

import json
import math
import runpy
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
TINY = (4, 2, 3, 5)  # T, B, input, hidden


@pytest.fixture(scope="module")
def bench():
    """The script as a module namespace (scripts/ is not a package)."""
    return runpy.run_path(str(ROOT / "scripts" / "benchmark.py"), run_name="benchmark")


@pytest.fixture
def tiny(bench, monkeypatch):
    """The script's functions at tiny sizes: every size a table uses is TINY."""
    globals_ = bench["measure"].__globals__
    for name in ("PADDED_SHAPE", "LAYERNORM_SHAPE"):
        monkeypatch.setitem(globals_, name, TINY)
    monkeypatch.setitem(globals_, "SHAPES", (TINY,))
    monkeypatch.setitem(globals_, "MIN_LENGTH", 2)
    monkeypatch.setitem(globals_, "MATMUL_SIZE", 8)
    return bench


def positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_median_times_calls_each_in_turns(bench):
    calls = []
    times = bench["median_times"](
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, torch.device("cpu")
    )
    assert calls == ["a", "b"] * 5  # two warm-up rounds, three timed
    assert set(times) == {"a", "b"} and all(t >= 0 for t in times.values())
    assert bench["median_time"](lambda: None, 1, torch.device("cpu")) >= 0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("padded", [False, True], ids=["dense", "lengths"])
def test_layer_rows(tiny, cell, padded, one_torch_thread):
    row = tiny["measure"](cell, TINY, torch.device("cpu"), 1, padded=padded)
    for name in ("auto", "cells", "torch"):
        for mode in ("fwd", "fwdbwd"):
            assert positive(row[f"{name}_{mode}_ms"])
    for name in ("auto", "cells"):
        for mode in ("fwd", "fwdbwd"):
            ratio = row[f"{name}_{mode}_ratio"]
            assert ratio == pytest.approx(row[f"{name}_{mode}_ms"] / row[f"torch_{mode}_ms"])
    assert row["auto_path"].startswith("fused: torch.")  # the table times the fused path
    assert ("min_length" in row) == padded
    if padded:
        assert 2 <= row["min_length"] <= row["T"]
    table = tiny["layers_markdown"]([row])
    assert len(table.splitlines()) == 3 and table.count("|") == 3 * 10


@pytest.mark.parametrize("compiled_forward", [False, True])
def test_layernorm_row(tiny, compiled_forward, one_torch_thread, monkeypatch):
    # compiling is what the benchmark times; here eager stands in for it, to stay fast
    monkeypatch.setattr(torch, "compile", lambda module, **options: module)
    row = tiny["measure_layernorm"](torch.device("cpu"), 1, compiled_forward)
    for name in ("eager", "compiled", "torch"):
        for mode in ("fwd", "fwdbwd"):
            if name != "compiled" or mode == "fwdbwd" or compiled_forward:
                assert positive(row[f"{name}_{mode}_ms"])
    assert ("compiled_fwd_ms" in row) == compiled_forward
    assert row["compile_s"] >= 0 and positive(row["compiled_fwdbwd_ratio"])
    table = tiny["layernorm_markdown"]([row])
    assert len(table.splitlines()) == 3 and ("–" in table) != compiled_forward


def test_char_lm_rows_follow_the_preset(tiny, one_torch_thread):
    job = tiny["char_lm_job"]("torch")
    assert type(job["model"].rnn) is torch.nn.LSTM  # model.impl=torch builds torch.nn's layer
    assert job["batch"] == (64, 64) and job["clip"] == 1.0  # the shakespeare experiment's
    small = ("model.hidden_size=8", "model.embedding_dim=4", "data.batch_size=2", "data.seq_len=3")
    rows = tiny["measure_char_lm"](torch.device("cpu"), 1, small)
    assert [r["impl"] for r in rows] == ["auto", "cells", "torch"]
    assert [r["layer"] for r in rows] == ["seqmodels.LSTM", "seqmodels.LSTM", "torch.nn.LSTM"]
    assert all(positive(r["ms"]) and positive(r["tokens_per_s"]) for r in rows)
    assert rows[-1]["ratio"] == 1.0 and rows[0]["hidden"] == 8
    assert len(tiny["char_lm_markdown"](rows).splitlines()) == 5


def test_flops_row(tiny, one_torch_thread):
    row = tiny["measure_flops"](torch.device("cpu"), 1)
    t, b, i, h = TINY
    assert row["gflop"] == pytest.approx(2 * t * b * 4 * h * (i + h) / 1e9)
    for key in ("lstm_gflops", "square_gflops", "step_gflops", "fraction"):
        assert positive(row[key])
    assert len(tiny["flops_markdown"]([row]).splitlines()) == 3


def test_command_line_writes_tables_and_json(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch, "compile", lambda module, **options: module)
    out = tmp_path / "bench.json"
    argv = ["benchmark.py", "--parts", "layers", "lengths", "layernorm", "flops"]
    argv += ["--cells", "gru", "--devices", "cpu", "--repeats", "1", "--threads", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--json", str(out)])
    threads = torch.get_num_threads()
    try:
        tiny["main"]()
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert "python scripts/benchmark.py --parts layers" in printed
    for part in ("layers", "lengths", "layernorm", "flops"):
        assert f"### {part}" in printed
    saved = json.loads(out.read_text())
    assert saved["torch"] == torch.__version__ and saved["cores"] >= 1 and saved["cpu"]
    assert [r["cell"] for r in saved["layers"]] == ["gru"]


def test_cells_without_a_twin_need_regularisers(bench, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["benchmark.py", "--cells", "layernorm_gru"])
    with pytest.raises(SystemExit):
        bench["main"]()


def test_regulariser_and_mingru_scan_rows(tiny, one_torch_thread, monkeypatch):
    globals_ = tiny["measure"].__globals__
    monkeypatch.setitem(globals_, "SCAN_SHAPE", TINY[1:])
    row = tiny["measure_regularisers"]("lstm", TINY, 1)
    names = ("plain", "recurrent_dropout", "weight_drop", "zoneout", "plain_steps")
    assert all(positive(row[name]) for name in names)
    assert len(tiny["regularisers_markdown"]([row]).splitlines()) == 3
    scan = tiny["measure_scan"](6, 1)
    assert positive(scan["default_fwdbwd_ms"]) and positive(scan["speedup"])
