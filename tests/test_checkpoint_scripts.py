"""The torch-only scripts (generate.py, translate.py, export.py) know the experiment a checkpoint
was trained with: a checkpoint of another model is refused with that experiment named, whether the
run's config is stored in the checkpoint or in the ``.hydra/config.yaml`` of its run directory."""

import runpy
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from test_inference import checkpoints  # noqa: F401 (a fixture: one checkpoint of each task)
from test_train import CHECKPOINT_0_1_0, compose_config

from seqmodels.evaluate import trained_config
from seqmodels.models import CharLM
from seqmodels.models.spec import CheckpointMismatch, trained_run
from seqmodels.tasks.language_model import TextGenerator
from seqmodels.train import StoreRunConfig

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models


def script(name: str):
    """The ``main`` of ``scripts/<name>``, run in this process."""
    return runpy.run_path(str(SCRIPTS / name))["main"]


@pytest.fixture(scope="module")
def runs(checkpoints, tmp_path_factory):  # noqa: F811
    """The char LM's checkpoint with experiment=shakespeare's config stored in it (as training
    runs write them), and the seq2seq one in a run directory whose ``.hydra/config.yaml`` is
    experiment=reverse's (as a run's older checkpoints have it)."""
    root = tmp_path_factory.mktemp("runs")
    lm = torch.load(checkpoints["lm"], weights_only=True)
    shakespeare = compose_config(["experiment=shakespeare"], root / "shakespeare")
    StoreRunConfig(shakespeare).on_save_checkpoint(None, None, lm)
    torch.save(lm, root / "shakespeare.ckpt")
    run_dir = root / "reverse"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / ".hydra").mkdir()
    reverse = compose_config(["experiment=reverse"], run_dir)
    OmegaConf.save(reverse, run_dir / ".hydra" / "config.yaml")
    seq2seq = run_dir / "checkpoints" / "last.ckpt"
    seq2seq.write_bytes(checkpoints["seq2seq"].read_bytes())
    return {"shakespeare": root / "shakespeare.ckpt", "reverse": seq2seq}


def refused(main, args: list[str], capsys) -> str:
    """The error message of a command line that ``main`` refuses (argparse: exit code 2)."""
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert ": error: " in last  # after the usage lines, and nothing else
    return last.partition(": error: ")[2]


def test_generate_refuses_a_regression_checkpoint_naming_its_experiment(capsys):
    error = refused(script("generate.py"), [str(CHECKPOINT_0_1_0)], capsys)
    assert error == (
        "this checkpoint was trained with experiment=pre-move-sine "
        f"(the checkpoint {CHECKPOINT_0_1_0}): its model is a SequenceRegressor (task "
        "RegressionTask), not a CharLM; generate.py samples from character language models: "
        "train one with experiment=shakespeare"
    )


def test_translate_refuses_a_char_lm_checkpoint_naming_its_experiment(runs, capsys):
    error = refused(script("translate.py"), [str(runs["shakespeare"]), "abc"], capsys)
    assert "this checkpoint was trained with experiment=shakespeare (the checkpoint " in error
    assert "its model is a CharLM (task LanguageModelTask), not a Seq2Seq" in error
    assert error.endswith(
        "translate.py decodes with sequence-to-sequence models: train one with "
        "experiment=translate or experiment=reverse"
    )


def test_export_refuses_a_seq2seq_checkpoint_naming_the_experiment_of_its_run(
    runs, tmp_path, capsys
):
    args = [str(runs["reverse"]), "--format", "pt2", "--out", str(tmp_path / "model.pt2")]
    error = refused(script("export.py"), args, capsys)
    config_file = runs["reverse"].parent.parent / ".hydra" / "config.yaml"
    assert error.startswith(
        f"this checkpoint was trained with experiment=reverse ({config_file.resolve()}): its "
        "model is a Seq2Seq (task Seq2SeqTask), not a SequenceRegressor, SequenceClassifier or "
        "CharLM; export.py exports"
    )
    assert error.endswith(
        "train one with experiment=sine, sst2 or shakespeare; translate.py decodes with a "
        "Seq2Seq checkpoint"
    )
    assert not (tmp_path / "model.pt2").exists()


def test_a_checkpoint_that_does_not_say_its_experiment_is_refused_naming_its_model(
    checkpoints,  # noqa: F811
    capsys,
):
    error = refused(script("generate.py"), [str(checkpoints["classification"])], capsys)
    assert error == (
        f"{checkpoints['classification']} does not say which experiment "
        "trained it (no run config stored in it, no .hydra/config.yaml beside its checkpoints/ "
        "folder); its model is a SequenceClassifier, not a CharLM; generate.py samples from "
        "character language models: train one with experiment=shakespeare"
    )
    with pytest.raises(CheckpointMismatch, match="its model is a SequenceClassifier") as info:
        TextGenerator.from_checkpoint(checkpoints["classification"])
    assert info.value.run is None and info.value.found.__name__ == "SequenceClassifier"


def test_the_scripts_read_the_checkpoints_of_their_experiments(runs, tmp_path, capsys):
    assert len(script("generate.py")([str(runs["shakespeare"]), "--length", "5"])) == 6
    capsys.readouterr()
    script("translate.py")([str(runs["reverse"]), "abc", "dd"])
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["abc", "dd"]
    out = tmp_path / "model.pt2"
    args = [str(runs["shakespeare"]), "--format", "pt2", "--out", str(out), "--seq-len", "4"]
    assert script("export.py")(args) < 1e-5 and out.is_file()


def test_the_torch_only_run_reader_agrees_with_evaluate_s(runs):
    for path, name in [(runs["shakespeare"], "shakespeare"), (runs["reverse"], "reverse")]:
        run = trained_run(path)
        config, source = trained_config(path)
        assert run.name == config.name == name and run.source == source
        assert run.config["task"]["_target_"] == config.task._target_
        assert run.config["model"]["_target_"] == config.model._target_
    with pytest.raises(CheckpointMismatch) as info:
        TextGenerator.from_checkpoint(runs["reverse"])
    assert info.value.run.name == "reverse" and not issubclass(info.value.found, CharLM)
