"""The data-to-task contract: data modules describe their data with typed specs, built without
Lightning's setup order; the spec's fields are arguments of the model and the task; tasks never
import the data package."""

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest

from seqmodels.data import SequenceDataModule
from seqmodels.models import CharLM, Seq2Seq, SequenceClassifier, SequenceRegressor, WindowMLP
from seqmodels.tasks.classification import (
    ClassificationTask,
    TextClassificationDataModule,
    TextClassificationSpec,
)
from seqmodels.tasks.language_model import CharTextDataModule, CharTextSpec, LanguageModelTask
from seqmodels.tasks.regression import RegressionTask, SeriesDataModule, SeriesSpec, sine_wave
from seqmodels.tasks.seq2seq import (
    PairsSpec,
    Seq2SeqTask,
    SyntheticPairsDataModule,
    TranslationDataModule,
)

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_task_imports_the_data_package():
    files = sorted((ROOT / "seqmodels" / "tasks").glob("*.py"))
    assert files
    for path in files:
        data = {
            name for name in imported_modules(path) if name.split(".")[:2] == ["seqmodels", "data"]
        }
        assert not data, f"{path.name} imports {sorted(data)}"


@pytest.fixture
def data_modules(tmp_path):
    """One data module of each kind, on small data, with the spec, model and task it feeds."""
    (tmp_path / "train.tsv").write_text("text\tlabel\ngood film\t1\nbad film\t0\nfine\t1\n")
    (tmp_path / "test.tsv").write_text("text\tlabel\ngood\t1\nbad\t0\n")
    (tmp_path / "text.txt").write_text("to be or not to be, that is the question. " * 5)
    return [
        (
            SeriesDataModule(sine_wave(200), seq_len=10),
            SeriesSpec,
            SequenceRegressor,
            RegressionTask,
        ),
        (
            TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tmp_path)),
            TextClassificationSpec,
            SequenceClassifier,
            ClassificationTask,
        ),
        (
            CharTextDataModule("text.txt", data_dir=str(tmp_path), seq_len=8, batch_size=2),
            CharTextSpec,
            CharLM,
            LanguageModelTask,
        ),
        (
            SyntheticPairsDataModule("copy", num_pairs=30, min_len=2, max_len=4),
            PairsSpec,
            Seq2Seq,
            Seq2SeqTask,
        ),
    ]


def test_every_data_module_derives_from_the_base():
    for module in (
        SeriesDataModule,
        TextClassificationDataModule,
        CharTextDataModule,
        SyntheticPairsDataModule,
        TranslationDataModule,
    ):
        assert issubclass(module, SequenceDataModule), module.__name__


def test_describe_works_before_setup_and_setup_does_not_load_again(data_modules):
    for dm, spec_class, _, _ in data_modules:
        spec = dm.describe()  # no Trainer, no setup
        assert type(spec) is spec_class
        assert dataclasses.is_dataclass(spec)
        loaded = dict(vars(dm))
        dm.setup("fit")
        assert all(vars(dm)[name] is value for name, value in loaded.items() if name != "_trainer")
        assert dm.describe() == spec


def test_spec_fields_are_arguments_of_the_model_and_the_task(data_modules):
    for dm, _, model_class, task_class in data_modules:
        spec = dm.describe()
        model_arguments = inspect.signature(model_class).parameters
        task_arguments = inspect.signature(task_class).parameters
        assert set(spec.model_arguments()) <= set(model_arguments), model_class.__name__
        assert set(spec.task_arguments()) <= set(task_arguments), task_class.__name__
        assert set(spec.model_arguments()).isdisjoint(spec.task_arguments())
    assert set(SeriesSpec.model_fields) <= set(inspect.signature(WindowMLP).parameters)


def test_a_task_built_from_the_spec_passes_the_check_and_other_data_fails_it(data_modules):
    dm = data_modules[0][0]
    spec = dm.describe()
    model = {"_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 4}
    task = RegressionTask({**model, **spec.model_arguments()}, **spec.task_arguments())
    spec.check_task(task.hparams)
    other = SeriesDataModule(sine_wave(200) + 1, seq_len=10).describe()
    with pytest.raises(ValueError, match="data module's target_shift differ from the task's"):
        other.check_task(task.hparams)


def test_arguments_a_task_was_built_without_are_not_checked(data_modules):
    spec = data_modules[2][0].describe()
    spec.check_task({"vocab": None})
    with pytest.raises(ValueError, match="data module's vocab differ from the task's"):
        spec.check_task({"vocab": ["a", "b"]})


def test_specs_are_frozen(data_modules):
    spec = data_modules[2][0].describe()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.vocab_size = 3
    assert spec.vocab_size == len(spec.vocab)
