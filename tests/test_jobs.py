"""Jobs as users run them from the command line: run directories, errors, failed runs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from torch.utils.tensorboard import SummaryWriter

from seqmodels.train import job_errors, remove_empty_outputs

ROOT = Path(__file__).resolve().parent.parent
TINY_SINE = [
    "data.series.length=300",
    "data.seq_len=10",
    "model.hidden_size=8",
    "trainer.max_epochs=1",
    "task.mlp_hidden_size=0",
    "callbacks.rich_progress_bar=null",
]


def run(script: str, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", **env}
    environment.pop("HYDRA_FULL_ERROR", None) if "HYDRA_FULL_ERROR" not in env else None
    command = [sys.executable, str(ROOT / "scripts" / script), *args]
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300
    )


def test_a_run_is_named_after_its_experiment_and_evaluates_without_it(tmp_path):
    trained = run("train.py", ["experiment=sine", *TINY_SINE], tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run_dir,) = (tmp_path / "outputs" / "sine").iterdir()  # outputs/sine/<date>_<time>
    assert len(run_dir.name) == len("2026-12-02_13-45-21") and run_dir.name[10] == "_"
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert "tensorboard --logdir " + str(tmp_path / "outputs") in trained.stdout
    test_rmse = next(line for line in trained.stdout.splitlines() if "test/rmse " in line)

    ckpt = run_dir / "checkpoints" / "last.ckpt"
    evaluated = run(
        "evaluate.py", [f"ckpt_path={ckpt}", "callbacks.rich_progress_bar=null"], tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "test/rmse" in evaluated.stdout
    assert test_rmse in evaluated.stdout  # the same test set, the same metric
    assert len(list((tmp_path / "outputs" / "evaluate").iterdir())) == 1


def test_a_data_error_shows_its_message_first_and_the_failed_run_leaves_only_its_log(tmp_path):
    args = ["experiment=csv_series", "data.series.path=series.csv", "data.series.column=nope"]
    (tmp_path / "series.csv").write_text("t,value\n" + "".join(f"{t},{t}\n" for t in range(40)))
    failed = run("train.py", args, tmp_path)
    assert failed.returncode == 1
    stderr = "\n".join(line for line in failed.stderr.splitlines() if "Seed set" not in line)
    assert stderr.startswith(
        "Error: ValueError: column 'nope' not found in series.csv; its columns are ['t', 'value']; "
        "choose one: data.series.column=... (building data.series)\n"
        "(set HYDRA_FULL_ERROR=1 for the traceback)"
    ), stderr
    assert "Traceback" not in failed.stderr + failed.stdout
    (run_dir,) = (tmp_path / "outputs" / "csv_series").iterdir()
    assert sorted(path.name for path in run_dir.iterdir()) == [".hydra", "train.log"]
    log = (run_dir / "train.log").read_text()
    assert "column 'nope' not found" in log and "Traceback" in log

    full = run("train.py", args, tmp_path, HYDRA_FULL_ERROR="1")
    assert full.returncode == 1 and "Traceback" in full.stderr


def test_job_errors_print_user_errors_and_raise_bugs(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as exit, job_errors(tmp_path):
        raise FloatingPointError("non-finite train loss; try trainer.gradient_clip_val=1.0")
    assert exit.value.code == 1
    assert capsys.readouterr().err == (
        "Error: FloatingPointError: non-finite train loss; try trainer.gradient_clip_val=1.0\n"
        "(set HYDRA_FULL_ERROR=1 for the traceback)\n"
    )
    with pytest.raises(SystemExit), job_errors(tmp_path):  # a config error
        OmegaConf.create({"data": {"series": {"path": "???"}}}).data.series.path  # noqa: B018
    assert capsys.readouterr().err.startswith(
        "Error: MissingMandatoryValue: Missing mandatory value: data.series.path\n"
    )
    with pytest.raises(TypeError), job_errors(tmp_path):  # a bug: Hydra prints the traceback
        raise TypeError("unsupported operand")
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    with pytest.raises(ValueError), job_errors(tmp_path):
        raise ValueError("shown with its traceback")


def test_a_failed_run_keeps_what_holds_data_and_drops_what_is_empty(tmp_path):
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("seed: 1\n")
    (tmp_path / "train.log").write_text("")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "csv" / "deeper").mkdir(parents=True)
    SummaryWriter(tmp_path / "tensorboard").close()  # an event file with its header only
    with SummaryWriter(tmp_path / "norm_last" / "tensorboard") as writer:
        writer.add_scalar("train/loss", 1.0, 1)
    remove_empty_outputs(tmp_path)
    kept = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert kept[:2] == [".hydra/config.yaml", "norm_last/tensorboard/" + kept[1].split("/")[-1]]
    assert kept[2:] == ["train.log"]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        ".hydra", "norm_last", "train.log"
    ]  # fmt: skip


def test_a_failed_run_leaves_alone_what_was_there_before_it(tmp_path):
    (tmp_path / "empty_before").mkdir()
    start = time.time() + 5  # as if the run had started later
    remove_empty_outputs(tmp_path, since=start)
    assert (tmp_path / "empty_before").is_dir()
    remove_empty_outputs(tmp_path, since=start - 10)
    assert not (tmp_path / "empty_before").exists()
