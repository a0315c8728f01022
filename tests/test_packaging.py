"""The package as users get it: ``python -m build`` makes a wheel that installs into a fresh
virtual environment, where ``seqmodels-train`` runs (with the configs shipped inside the
package) and the README's library example runs against the installed copy."""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

import seqmodels

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("build")
    dist = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with this environment's setuptools, so no network is needed
    run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)], ROOT)  # fmt: skip
    (wheel,) = dist.glob("seqmodels-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_metadata(wheel):
    assert wheel.name.startswith(f"seqmodels-{seqmodels.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    assert metadata["Version"] == seqmodels.__version__
    assert metadata["License-Expression"] == "MIT"
    assert "Intended Audience :: Science/Research" in metadata.get_all("Classifier")
    assert any(url.startswith("Documentation, ") for url in metadata.get_all("Project-URL"))
    assert "seqmodels/conf/train.yaml" in names
    assert any(name.endswith("/licenses/LICENSE") or name.endswith("/LICENSE") for name in names)


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_environment_and_runs(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    # The wheel itself, without its dependencies (no network): torch, Lightning, Hydra, ... are
    # taken from this environment's site-packages, listed after the fresh environment's own.
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(wheel)], tmp_path)
    fresh_site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp_path).strip()  # fmt: skip
    Path(fresh_site, "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"

    where = run([str(python), "-c", "import seqmodels; print(seqmodels.__file__)"], tmp_path, env)
    assert Path(where.strip()).is_relative_to(env_dir), where

    help_text = run([str(bin_dir / "seqmodels-train"), "--help"], tmp_path, env)
    assert "experiment" in help_text

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = "\n".join(re.findall(r"^```python\n(.*?)^```$", readme, re.MULTILINE | re.DOTALL))
    (tmp_path / "readme_example.py").write_text(example)
    printed = run([str(python), "readme_example.py"], tmp_path, env)
    assert "torch.Size([3, 7, 40])" in printed
