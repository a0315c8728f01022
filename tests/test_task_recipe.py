"""The "add a task" recipe of docs/extending.md, followed from outside the package: the page's task
folder (data module and spec, LightningModule, predictor) and conf/ files written to a folder of
their own, trained through scripts/train.py with Hydra's search path, tested again by
scripts/evaluate.py, read back by the predictor without Lightning, and no package file changed."""

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import seqmodels

ROOT = Path(__file__).resolve().parents[1]

RECIPE = ROOT / "docs" / "extending.md"
# a fenced block of the page whose first line names the file it is: "# my_tasks/.../task.py"
FILE_BLOCK = re.compile(
    r"^```(?:python|yaml)\n# (?P<path>[\w/.]+\.(?:py|yaml))\n(?P<text>.*?)^```$", re.M | re.S
)


def recipe_files() -> dict[str, str]:
    """The files of the "A task" section of docs/extending.md, by path."""
    text = RECIPE.read_text(encoding="utf-8")
    section = text[text.index("\n## A task\n") : text.index("\n## A data set\n")]
    return {match["path"]: match["text"] for match in FILE_BLOCK.finditer(section)}


def package_hashes() -> dict[str, str]:
    """A digest of every file of the package and its configs."""
    roots = [Path(seqmodels.__file__).parent, ROOT / "conf"]
    files = [path for root in roots for path in sorted(root.rglob("*")) if path.is_file()]
    files = [path for path in files if "__pycache__" not in path.parts]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def write(files: dict[str, str], folder: Path) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(cwd), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result


def test_a_task_of_ones_own_is_one_folder_and_its_conf_files_and_changes_no_package_file(
    tmp_path,
):
    files = recipe_files()
    assert sorted(files) == [
        "conf/data/running_sum.yaml", "conf/experiment/running_sum.yaml",
        "conf/task/running_sum.yaml", "my_tasks/running_sum/data.py",
        "my_tasks/running_sum/predictor.py", "my_tasks/running_sum/task.py",
    ]  # fmt: skip
    write(files, tmp_path)
    for package in ("my_tasks", "my_tasks/running_sum"):
        (tmp_path / package / "__init__.py").touch()
    before = package_hashes()

    searchpath = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    trained = run(
        [
            sys.executable, str(ROOT / "scripts" / "train.py"), searchpath,
            "experiment=running_sum", "trainer.max_epochs=2", "logger=csv",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        tmp_path,
    )  # fmt: skip
    assert "test/mae" in trained.stdout and "val/loss" in trained.stdout
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert last.is_file()

    # scripts/evaluate.py takes the task and data from the checkpoint's stored config
    evaluated = run([sys.executable, str(ROOT / "scripts" / "evaluate.py"), f"ckpt_path={last}"], tmp_path)  # fmt: skip
    assert "test/mae" in evaluated.stdout

    # the predictor reads the checkpoint with torch only
    predict = (
        "import sys\n"
        "from my_tasks.running_sum.predictor import SumPredictor\n"
        f"sums = SumPredictor.from_checkpoint({str(last)!r}).predict([[0.5] * 6, [0.1] * 6])\n"
        "assert len(sums) == 2 and all(isinstance(s, float) for s in sums), sums\n"
        "assert 'lightning' not in sys.modules and 'hydra' not in sys.modules\n"
    )
    run([sys.executable, "-c", predict], tmp_path)

    assert package_hashes() == before
