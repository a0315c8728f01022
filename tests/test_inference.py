"""Inference with torch only: checkpoints written by the tasks load without Lightning, and the
plain models give the same outputs as the tasks' own methods; the scripts never import Lightning."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from seqmodels.models import CharLM
from seqmodels.models.spec import load_checkpoint
from seqmodels.preprocessing import Scaler, Vocabulary
from seqmodels.tasks.classification import (
    ClassificationTask,
    TextClassificationDataModule,
    TextClassifier,
)
from seqmodels.tasks.language_model import CharTextDataModule, LanguageModelTask, TextGenerator
from seqmodels.tasks.regression import Forecaster, RegressionTask, SeriesDataModule, sine_wave
from seqmodels.tasks.seq2seq import Seq2SeqTask, SyntheticPairsDataModule, Translator

ROOT = Path(__file__).resolve().parents[1]
TEXT = "to be or not to be, that is the question. " * 5


def fit_and_save(task, dm, path: Path) -> Path:
    """One training batch (so the weights are no longer the initial ones), then a checkpoint."""
    trainer = L.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)  # fmt: skip
    trainer.fit(task, datamodule=dm)
    trainer.save_checkpoint(path)
    return path


def build(dm, task_class, model: dict, **task_options):
    data = dm.describe()
    return task_class({**model, **data.model_arguments()}, **data.task_arguments(), **task_options)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """A checkpoint of each task, written by Lightning."""
    root = tmp_path_factory.mktemp("checkpoints")
    (root / "text.txt").write_text(TEXT)
    (root / "train.tsv").write_text("text\tlabel\ngood film\t1\nbad film\t0\nfine <br /> x\t1\n")
    (root / "test.tsv").write_text("text\tlabel\ngood\t1\nbad\t0\n")
    torch.manual_seed(0)
    lm = CharTextDataModule("text.txt", data_dir=str(root), seq_len=8, batch_size=2)
    pairs = SyntheticPairsDataModule("copy", num_pairs=40, min_len=2, max_len=4, vocab_size=5)
    texts = TextClassificationDataModule(
        "train.tsv", "test.tsv", data_dir=str(root), remove_html_breaks=True, max_length=2
    )
    series = SeriesDataModule(sine_wave(200) * 3 + 5, seq_len=10)
    tasks = {
        "lm": (lm, build(lm, LanguageModelTask, {"_target_": "seqmodels.models.CharLM",
                                                  "embedding_dim": 8, "hidden_size": 16},
                         sample_length=0)),
        "seq2seq": (pairs, build(pairs, Seq2SeqTask, {"_target_": "seqmodels.models.Seq2Seq",
                                                      "embedding_dim": 8, "hidden_size": 16,
                                                      "attention": "bahdanau"}, max_len=6)),
        "classification": (texts, build(texts, ClassificationTask, {
            "_target_": "seqmodels.models.SequenceClassifier", "embedding_dim": 8,
            "hidden_size": 8})),
        "regression": (series, build(series, RegressionTask, {
            "_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 8},
            strategy="recursive", mlp_hidden_size=4)),
    }  # fmt: skip
    return {
        name: fit_and_save(task, dm, root / f"{name}.ckpt") for name, (dm, task) in tasks.items()
    }


def test_load_checkpoint_rebuilds_the_model_with_its_weights(checkpoints):
    model, hparams = load_checkpoint(checkpoints["lm"])
    task = LanguageModelTask.load_from_checkpoint(checkpoints["lm"])
    assert isinstance(model, CharLM) and not model.training
    assert hparams["vocab"] == task.vocab.itos
    for (name, ours), (task_name, theirs) in zip(
        model.state_dict().items(), task.model.state_dict().items(), strict=True
    ):
        assert name == task_name and torch.equal(ours, theirs)


def test_sampled_text_equals_the_task_s(checkpoints):
    task = LanguageModelTask.load_from_checkpoint(checkpoints["lm"])
    text_generator = TextGenerator.from_checkpoint(checkpoints["lm"])
    for prompt in ("to be", None):
        ours = text_generator.generate(prompt, 30, 0.8, 5, torch.Generator().manual_seed(1))
        theirs = task.generate_text(prompt, 30, 0.8, 5, torch.Generator().manual_seed(1))
        assert ours == theirs and len(ours) == len(prompt or " ") + 30


def test_translations_equal_the_task_s(checkpoints):
    task = Seq2SeqTask.load_from_checkpoint(checkpoints["seq2seq"])
    translator = Translator.from_checkpoint(checkpoints["seq2seq"])
    assert (translator.level, translator.max_len) == ("char", 6)
    inputs = ["abc", "dd", "eabd", "zz"]  # z: an unknown source token
    for beam_size in (1, 3):
        assert translator.translate(inputs, beam_size) == task.translate(inputs, beam_size)
    assert translator.translate(inputs, max_len=2) == task.translate(inputs, max_len=2)


def test_predicted_labels_equal_the_task_s(checkpoints):
    task = ClassificationTask.load_from_checkpoint(checkpoints["classification"])
    classifier = TextClassifier.from_checkpoint(checkpoints["classification"])
    texts = ["good film", "bad<br />film, bad", "unknown words"]
    tokens, lengths = classifier.encode(texts)
    assert lengths.tolist() == [2, 2, 2]  # max_length from the checkpoint; <br /> removed
    expected_tokens, expected_lengths = task.encode(texts)
    assert torch.equal(tokens, expected_tokens) and torch.equal(lengths, expected_lengths)
    assert classifier.predict(texts) == task.predict(texts)
    assert set(classifier.predict(texts)) <= {"0", "1"}


def test_forecasts_equal_the_task_s_in_the_series_units(checkpoints):
    task = RegressionTask.load_from_checkpoint(checkpoints["regression"])
    forecaster = Forecaster.from_checkpoint(checkpoints["regression"])
    window = sine_wave(10) * 3 + 5  # the series' units
    forecast = forecaster.forecast(window, steps=4)
    assert forecast.shape == (4,)
    scaled = task.scaler.transform(window).view(1, 10, 1)
    task.eval()
    with torch.no_grad():
        expected = task.scaler.inverse(task.model.forecast(scaled, 4))[0]
    torch.testing.assert_close(forecast, expected)
    torch.testing.assert_close(task.forecast(window, 4), forecast)
    torch.testing.assert_close(forecaster.forecast(window.expand(2, 10), 4), forecast.expand(2, 4))


def test_scripts_and_inference_run_without_lightning(checkpoints):
    paths = {name: str(path) for name, path in checkpoints.items()}
    code = (
        f"PATHS = {paths!r}\n"
        + """
import json, runpy, sys
import torch
sys.argv = ["generate.py", PATHS["lm"], "--prompt", "to", "--length", "20", "--seed", "3"]
runpy.run_path("scripts/generate.py", run_name="__main__")
sys.argv = ["translate.py", PATHS["seq2seq"], "abc", "dd"]
runpy.run_path("scripts/translate.py", run_name="__main__")
from seqmodels.tasks.regression import Forecaster
from seqmodels.tasks.classification import TextClassifier
classifier = TextClassifier.from_checkpoint(PATHS["classification"])
print(json.dumps(classifier.predict(["good film", "bad"])))
forecaster = Forecaster.from_checkpoint(PATHS["regression"])
print(json.dumps(forecaster.forecast(torch.ones(10), 2).tolist()))
frameworks = ("lightning", "pytorch_lightning", "lightning_fabric", "torchmetrics", "hydra")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in frameworks)))
"""
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    sample, first, second, labels, forecast, frameworks = result.stdout.splitlines()
    assert json.loads(frameworks) == []
    task = LanguageModelTask.load_from_checkpoint(checkpoints["lm"])
    assert sample == task.generate_text("to", 20, 0.8, None, torch.Generator().manual_seed(3))
    task = Seq2SeqTask.load_from_checkpoint(checkpoints["seq2seq"])
    assert [first, second] == [
        f"{s}\t{t}" for s, t in zip(["abc", "dd"], task.translate(["abc", "dd"]), strict=True)
    ]
    task = ClassificationTask.load_from_checkpoint(checkpoints["classification"])
    assert json.loads(labels) == task.predict(["good film", "bad"])
    task = RegressionTask.load_from_checkpoint(checkpoints["regression"])
    torch.testing.assert_close(torch.tensor(json.loads(forecast)), task.forecast(torch.ones(10), 2))


def test_bad_input_is_named(checkpoints):
    classifier = TextClassifier.from_checkpoint(checkpoints["classification"])
    with pytest.raises(ValueError, match="cannot classify a text without any token: '   '"):
        classifier.predict(["good", "   "])
    translator = Translator.from_checkpoint(checkpoints["seq2seq"])
    with pytest.raises(ValueError, match="cannot translate a text without any token: ''"):
        translator.translate(["abc", ""])
    with pytest.raises(ValueError, match="level must be 'char' or 'word', got 'byte'"):
        Translator(translator.model, translator.src_vocab, translator.tgt_vocab, level="byte")
    with pytest.raises(ValueError, match="tgt_vocab has 3 tokens but the model expects"):
        Translator(translator.model, translator.src_vocab, Vocabulary(["a", "b", "c"]))
    text_generator = TextGenerator.from_checkpoint(checkpoints["lm"])
    with pytest.raises(ValueError, match="token 'Z' is not in the vocabulary"):
        text_generator.generate("Z", 3)
    forecaster = Forecaster.from_checkpoint(checkpoints["regression"])
    with pytest.raises(
        ValueError, match=r"window must be \(L,\) or \(N, L\), got shape \(1, 10, 1\)"
    ):
        forecaster.forecast(torch.ones(1, 10, 1), 2)
    two_columns = SeriesDataModule(torch.ones(50, 2).cumsum(0), seq_len=5).describe()
    model = RegressionTask(
        {"_target_": "seqmodels.models.SequenceRegressor", **two_columns.model_arguments()}
    ).model
    with pytest.raises(
        ValueError, match="Forecaster reads univariate windows, but the model takes 2"
    ):
        Forecaster(model, Scaler())


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "seqmodels.models.inference.Forecaster",
            "seqmodels.tasks.regression.predictor.Forecaster",
        ),
        ("seqmodels.models.inference.Translator", "seqmodels.tasks.seq2seq.predictor.Translator"),
        ("seqmodels.models.inference.load_checkpoint", "seqmodels.models.spec.load_checkpoint"),
        ("seqmodels.tasks.RegressionTask", "seqmodels.tasks.regression.task.RegressionTask"),
        (
            "seqmodels.tasks.ClassificationTask",
            "seqmodels.tasks.classification.task.ClassificationTask",
        ),
        ("seqmodels.data.SeriesDataModule", "seqmodels.tasks.regression.data.SeriesDataModule"),
        (
            "seqmodels.data.CharTextDataModule",
            "seqmodels.tasks.language_model.data.CharTextDataModule",
        ),
        ("seqmodels.data.base.PairsSpec", "seqmodels.tasks.seq2seq.data.PairsSpec"),
        ("seqmodels.data.series.sine_wave", "seqmodels.tasks.regression.data.sine_wave"),
        (
            "seqmodels.data.text_classification.read_labeled_texts",
            "seqmodels.tasks.classification.data.read_labeled_texts",
        ),
        (
            "seqmodels.data.pairs.SyntheticPairsDataModule",
            "seqmodels.tasks.seq2seq.data.SyntheticPairsDataModule",
        ),
        ("seqmodels.data.char_text.BPTTWindows", "seqmodels.tasks.language_model.data.BPTTWindows"),
    ],
)
def test_the_paths_before_the_task_folders_still_work_with_a_warning(old, new):
    module, name = old.rsplit(".", 1)
    with pytest.warns(
        DeprecationWarning, match=rf"{old} moved to .*{name}; the old path is deprecated"
    ):
        found = getattr(importlib.import_module(module), name)
    new_module, new_name = new.rsplit(".", 1)
    assert found is getattr(importlib.import_module(new_module), new_name)


def test_a_predictor_imports_neither_lightning_nor_its_task():
    code = (
        "import sys\n"
        "import seqmodels.tasks.regression.predictor, seqmodels.tasks.classification.predictor\n"
        "import seqmodels.tasks.language_model.predictor, seqmodels.tasks.seq2seq.predictor\n"
        "from seqmodels.tasks.regression import Forecaster\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'hydra', 'torchmetrics') or m.endswith('.task')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"
