"""The "add a cell" recipe of docs/extending.md, followed from outside the package: a cell in a
module of its own, trained through scripts/train.py by its import path, and no package file
changed."""

import hashlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

from test_extension_point import DoubledTanhCell

import seqmodels

ROOT = Path(__file__).resolve().parents[1]

# the user's module: the imports it needs and a cell of test_extension_point's
CELL_MODULE = (
    "import torch\nfrom torch import Tensor, nn\n\nfrom seqmodels import RecurrentCell\n\n\n"
    + inspect.getsource(DoubledTanhCell)
)


def package_hashes() -> dict[str, str]:
    """A digest of every file of the package and its configs."""
    roots = [Path(seqmodels.__file__).parent, ROOT / "conf"]
    files = [path for root in roots for path in sorted(root.rglob("*")) if path.is_file()]
    files = [path for path in files if "__pycache__" not in path.parts]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def test_a_cell_of_ones_own_trains_by_its_import_path_and_changes_no_package_file(tmp_path):
    (tmp_path / "my_cells.py").write_text(CELL_MODULE)
    before = package_hashes()
    overrides = [
        "model.cell=my_cells.DoubledTanhCell", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DoubledTanhCell" in (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
    assert list((tmp_path / "run" / "checkpoints").glob("*.ckpt"))
    assert package_hashes() == before
