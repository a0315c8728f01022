"""Fixtures shared by the test files: one torch thread, quiet Lightning trainers, files on disk."""

from collections.abc import Callable, Iterator
from pathlib import Path

import lightning as L
import pytest
import torch


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def quiet_trainer(tmp_path: Path) -> Callable[..., L.Trainer]:
    """``quiet_trainer(**kwargs)``: a CPU Trainer writing under ``tmp_path`` with no progress bar,
    model summary, logger or checkpoints; keyword arguments override any of these."""

    def make(**kwargs) -> L.Trainer:
        quiet = {
            "accelerator": "cpu",
            "logger": False,
            "enable_checkpointing": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": tmp_path,
        }
        return L.Trainer(**{**quiet, **kwargs})

    return make


@pytest.fixture
def write_file() -> Callable[..., Path]:
    """``write_file(path, text, encoding="utf-8") -> path``: the text written as the given
    encoding's bytes (no newline translation, so ``\\r\\n`` stays as written)."""

    def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
        path.write_bytes(text.encode(encoding))
        return path

    return write
