"""The README and the documentation site: every Python example runs, the site builds with
``--strict``, the API reference covers every public name, and the README stays a front door.

Python code blocks of a page run in order in one namespace (a page reads as one session), in a
temporary working directory. A block is marked by an HTML comment on the line before its fence:

* ``<!-- docs-test: slow -->``: runs only under ``pytest -m slow`` (with the page's other blocks);
* ``<!-- docs-test: data -->``: needs the real data sets under ``$SEQMODELS_DATA_DIR``; left out
  when the variable is unset (later blocks must not depend on it);
* ``<!-- docs-test: checkpoints -->``: reads the checkpoints a page about trained models names,
  ``sine.ckpt``, ``lm.ckpt``, ``seq2seq.ckpt`` and ``sentiment.ckpt``; the test writes them into
  the working directory first (each task trained on one batch of tiny data).

Marks combine: ``<!-- docs-test: slow data -->``.

A line ``print(...)  # expected`` states what the call prints: the block's printed lines are
compared with those comments, in order.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import re
import subprocess
import sys
import types
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
if not (ROOT / "mkdocs.yml").exists():  # a copy of the package without its documentation
    pytest.skip("the documentation site is not part of this copy", allow_module_level=True)
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
FENCE = re.compile(
    r"^(?:<!-- docs-test: (?P<marks>[a-z ]+) -->\n)?```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
EXPECTED = re.compile(r"^print\(.*\)  # (?P<expected>.+)$")
# public packages and modules whose ``__all__`` the API reference must cover
PUBLIC = [
    "seqmodels",
    "seqmodels.models",
    "seqmodels.models.seq2seq",
    "seqmodels.models.inference",
    "seqmodels.preprocessing",
    "seqmodels.data",
    "seqmodels.tasks",
]
HISTORY = re.compile(
    r"this session|earlier session|later session|development machine|new this|issue \d|"
    r"before →|before ->",
    re.IGNORECASE,
)


@dataclass
class Block:
    page: Path
    line: int
    code: str
    marks: frozenset[str]


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        marks = frozenset((match["marks"] or "").split())
        unknown = marks - {"slow", "data", "checkpoints"}
        assert not unknown, f"{page}: unknown docs-test marks {sorted(unknown)}"
        line = text.count("\n", 0, match.start("code")) + 1
        found.append(Block(page, line, match["code"], marks))
    return found


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


PAGES_WITH_CODE = [page for page in PAGES if blocks(page)]


def write_checkpoints(root: Path) -> None:
    """``sine.ckpt``, ``lm.ckpt``, ``seq2seq.ckpt`` and ``sentiment.ckpt``: the tasks' own
    checkpoints (written by Lightning) after one training batch on tiny data."""
    import lightning as L
    import torch

    from seqmodels.tasks.classification import ClassificationTask, TextClassificationDataModule
    from seqmodels.tasks.language_model import CharTextDataModule, LanguageModelTask
    from seqmodels.tasks.regression import RegressionTask, SeriesDataModule, sine_wave
    from seqmodels.tasks.seq2seq import Seq2SeqTask, TranslationDataModule

    (root / "text.txt").write_text("ROMEO: to be or not to be, that is the question.\n" * 20)
    (root / "train.tsv").write_text("text\tlabel\na charming film\t1\na dull film\t0\n" * 4)
    (root / "eng-fra").mkdir()
    (root / "eng-fra" / "eng-fra.txt").write_text(
        "I am tired.\tJe suis fatigue.\nWe are late.\tNous sommes en retard.\n" * 20
    )
    torch.manual_seed(0)
    small = {"embedding_dim": 8, "hidden_size": 16}
    jobs = {
        "sine": (
            SeriesDataModule(sine_wave(400), seq_len=50),
            RegressionTask,
            {"_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 16},
            {},
        ),
        "lm": (
            CharTextDataModule("text.txt", data_dir=str(root), seq_len=16, batch_size=4),
            LanguageModelTask,
            {"_target_": "seqmodels.models.CharLM", **small},
            {"sample_length": 0},
        ),
        "seq2seq": (
            TranslationDataModule(data_dir=str(root), batch_size=4),
            Seq2SeqTask,
            {"_target_": "seqmodels.models.Seq2Seq", **small, "attention": "bahdanau"},
            {},
        ),
        "sentiment": (
            TextClassificationDataModule("train.tsv", "train.tsv", data_dir=str(root)),
            ClassificationTask,
            {"_target_": "seqmodels.models.SequenceClassifier", **small},
            {},
        ),
    }
    for name, (dm, task_class, model, options) in jobs.items():
        data = dm.describe()
        task = task_class({**model, **data.model_arguments()}, **data.task_arguments(), **options)
        trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, default_root_dir=root)  # fmt: skip
        trainer.fit(task, datamodule=dm)
        trainer.save_checkpoint(root / f"{name}.ckpt")


def run_page(page: Path, slow: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    selected = [block for block in blocks(page) if slow or "slow" not in block.marks]
    if slow and not any("slow" in block.marks for block in selected):
        pytest.skip("no slow blocks on this page")
    if not os.environ.get("SEQMODELS_DATA_DIR"):  # the blocks that read real data sets wait
        selected = [block for block in selected if "data" not in block.marks]
    if not selected:
        pytest.skip("only slow examples, or examples that need SEQMODELS_DATA_DIR, on this page")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["docs-example"])
    if any("checkpoints" in block.marks for block in selected):
        write_checkpoints(tmp_path)
    # a module of its own, so that classes defined on the page (dataclasses) find their module
    module = types.ModuleType("docs_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = module.__dict__
    for block in selected:
        out = io.StringIO()
        code = compile(block.code, f"{page_id(page)}:{block.line}", "exec")
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        expected = [
            match["expected"] for line in block.code.splitlines() if (match := EXPECTED.match(line))
        ]
        if expected:
            printed = out.getvalue().splitlines()
            assert printed == expected, f"{page_id(page)}:{block.line}: printed {printed}"


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=page_id)
def test_examples_run(page, tmp_path, monkeypatch, one_torch_thread):
    run_page(page, slow=False, tmp_path=tmp_path, monkeypatch=monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=page_id)
def test_slow_examples_run(page, tmp_path, monkeypatch):
    run_page(page, slow=True, tmp_path=tmp_path, monkeypatch=monkeypatch)


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode("utf-8")) <= 10 * 1024
    # the test command the README gives is the one CI runs
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.strip().splitlines()[-1] == "python -m pytest"
    assert "\npython -m pytest " in readme
    assert "python scripts/train.py " in readme


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_no_development_history(page):
    text = page.read_text(encoding="utf-8")
    assert not HISTORY.findall(text), f"{page_id(page)}: {HISTORY.findall(text)}"


@pytest.mark.parametrize("page", [ROOT / "README.md", ROOT / "CHANGELOG.md"], ids=page_id)
def test_relative_links_exist(page):
    # mkdocs checks the links of the site; these files live outside it
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
        assert (page.parent / target).exists(), f"{page_id(page)} links to missing {target}"


def inventory(site: Path) -> set[str]:
    """The object names of a built site's ``objects.inv`` (Sphinx inventory version 2)."""
    header_lines = 4
    data = (site / "objects.inv").read_bytes().split(b"\n", header_lines)[header_lines]
    return {line.split()[0] for line in zlib.decompress(data).decode().splitlines()}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("site")
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(mkdocs, cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_site_builds_strict(site):
    assert (site / "index.html").exists()
    assert (site / "api" / "layers" / "index.html").exists()


@pytest.mark.parametrize("package", PUBLIC)
def test_api_reference_covers_public_names(site, package):
    module = importlib.import_module(package)
    names = getattr(module, "__all__", None) or [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    ]
    documented = inventory(site)
    missing = []
    for name in names:
        obj = getattr(module, name)
        home = getattr(obj, "__module__", None)
        candidates = {f"{package}.{name}", f"{home}.{name}"}
        if not candidates & documented and not any(d.endswith(f".{name}") for d in documented):
            missing.append(name)
    assert not missing, f"{package}: not in the API reference: {missing}"


def test_docs_pages_are_all_in_the_nav():
    # mkdocs --strict warns about pages left out of the nav (validation.omitted_files)
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages <= set(re.findall(r"([\w/.-]+\.md)", config))


def test_changelog_names_the_version():
    import seqmodels

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{seqmodels.__version__}]" in changelog
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert f"\nversion: {seqmodels.__version__}\n" in citation
    # the site's changelog page includes CHANGELOG.md rather than copying it
    assert "CHANGELOG.md" in (DOCS / "changelog.md").read_text(encoding="utf-8")


def test_docstrings_rst_is_rewritten_as_markdown():
    import importlib.util

    spec = importlib.util.spec_from_file_location("griffe_rst", DOCS / "griffe_rst.py")
    pytest.importorskip("griffe")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.markdown(":class:`~seqmodels.cells.LSTMCell` and :func:`f <a.b>`") == (
        "`LSTMCell` and `f`"
    )
    assert module.markdown(":math:`h_t`") == "\\(h_t\\)"
    table = "=====  =====\na      b\n       more\nc      d\n=====  =====\n"
    assert module.markdown(table).split("\n")[1:5] == [
        "|  |  |",
        "| --- | --- |",
        "| a | b more |",
        "| c | d |",
    ]
    block = module.markdown("Example::\n\n    >>> 1 + 1\n    2\n")
    assert "```pycon\n>>> 1 + 1\n2\n```" in block


def test_citation_file_is_valid_yaml_with_the_required_keys():
    import yaml

    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert {"cff-version", "message", "title", "authors"} <= set(citation)
    assert citation["license"] == "MIT"


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_commands_name_what_exists(page):
    """The presets, scripts and config options a page's commands name are in the repository."""
    text = page.read_text(encoding="utf-8")
    experiments = {path.stem for path in (ROOT / "conf" / "experiment").glob("*.yaml")}
    experiments |= set(re.findall(r"^# conf/experiment/(\w+)\.yaml$", text, re.M))  # the page's own
    for name in re.findall(r"experiment=([A-Za-z_0-9]+)", text):
        if name != "NAME":
            assert name in experiments, f"{page_id(page)}: no conf/experiment/{name}.yaml"
    import seqmodels

    for names in re.findall(r"model\.cell=([A-Za-z_.,]+)", text):
        for name in names.split(","):
            if "." in name or name.isupper():  # a user's module path, or a placeholder
                continue
            assert name in seqmodels.CELLS, f"{page_id(page)}: model.cell={name}"
    for script in re.findall(r"scripts/(\w+\.py)", text):
        assert (ROOT / "scripts" / script).exists(), f"{page_id(page)}: no scripts/{script}"
    for group, option in re.findall(
        r"(?<![\w.+])(trainer|logger|hparams_search)=([a-z_]\w*)", text
    ):
        assert (ROOT / "conf" / group / f"{option}.yaml").exists(), (
            f"{page_id(page)}: {group}={option}"
        )
