"""The training stack: configs compose, every experiment runs, runs reproduce and resume."""

import os
import subprocess
import sys
import warnings
from importlib import resources
from pathlib import Path

import pytest
import setuptools
import torch
from hydra import compose, initialize_config_module
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import MissingMandatoryValue, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from tensorboard.util import tensor_util
from torch.utils.data import DataLoader, TensorDataset

from seqmodels.evaluate import evaluate, job_config
from seqmodels.models.spec import build_model
from seqmodels.tasks.classification import ClassificationTask
from seqmodels.tasks.regression import RegressionTask
from seqmodels.train import CONFIG_PACKAGE, build_trainer, chosen_value, train

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = resources.files(CONFIG_PACKAGE)
EXPERIMENTS = sorted(
    path.name.removesuffix(".yaml")
    for path in CONFIGS.joinpath("experiment").iterdir()
    if path.name.endswith(".yaml")
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models

# Every run in these tests: quiet, on CPU, no sanity check.
QUIET = ["callbacks.rich_progress_bar=null", "trainer.accelerator=cpu"]

# Extra overrides that let an experiment run on the tiny files of `tiny_data_dir` (an experiment
# without an entry runs with its own settings). Add a line here for a new experiment that needs
# smaller windows, fewer samples, or a data file.
TINY_DATA_OVERRIDES = {
    "csv_series": ["data.series.path=series.csv", "data.series.column=value"],
    "pollution": ["data.batch_size=16"],
    "shakespeare": ["data.seq_len=16", "data.batch_size=4"],
    "reverse": ["data.num_pairs=200"],
    "translate": ["data.english_prefixes=null"],
}

# A small sine job: a few seconds per run.
SMALL_SINE = [
    "data.series.length=300",
    "data.seq_len=10",
    "data.batch_size=32",
    "model.hidden_size=8",
    "trainer.max_epochs=3",
    "logger=csv",
    *QUIET,
]


def compose_config(overrides: list[str], output_dir: Path, config_name: str = "train"):
    """Compose a config as the command line would, writing under ``output_dir``."""
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        return compose(config_name, overrides=[*overrides, f"paths.output_dir={output_dir}"])


@pytest.fixture
def tiny_data_dir(tmp_path, monkeypatch):
    """A data directory with tiny copies of every data set's files, as SEQMODELS_DATA_DIR."""
    root = tmp_path / "data"
    words = ["good", "bad", "happy", "sad", "not", "very", "this", "is"]
    sentences = [f"{words[i % 8]} {words[(3 * i) % 8]} {words[(5 * i + 1) % 8]}" for i in range(24)]
    files = {
        "tinyshakespeare/input.txt": "First Citizen:\nBefore we proceed any further, hear me.\n"
        * 30,
        "sst2/train.tsv": "sentence\tlabel\n"
        + "".join(f"{s} \t{i % 2}\n" for i, s in enumerate(sentences)),
        "sst2/dev.tsv": "sentence\tlabel\n"
        + "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(sentences[:8])),
        "tiny-sentiment/train.tsv": "text\tlabel\n"
        + "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(sentences)),
        "tiny-sentiment/test.tsv": "text\tlabel\n"
        + "".join(f"{s}\t{i % 2}\n" for i, s in enumerate(sentences[:8])),
        "eng-fra/eng-fra.txt": "".join(
            f"I am {w} {i}.\tJe suis {w} {i}.\n" for i in range(20) for w in ("cold", "tall")
        ),
        "series.csv": "time,value\n" + "".join(f"{t},{(t * 7) % 13}\n" for t in range(80)),
        "series/pollution.csv": "No,year,month,day,hour,pm2.5,DEWP,TEMP,PRES,cbwd,Iws,Is,Ir\n"
        + "".join(
            f"{t + 1},2010,1,{t // 24 + 1},{t % 24},{'NA' if t % 17 == 3 else (t * 7) % 50},"
            f"-{t % 9},{t % 5},1020,{('NW', 'SE', 'cv')[t % 3]},{t % 4}.5,0,0\n"
            for t in range(240)
        ),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(root))
    return root


def test_a_regular_install_ships_every_package_and_the_configs():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = setuptools.find_packages(ROOT, include=["seqmodels*"])
    assert sorted(config["packages"]) == sorted([*packages, CONFIG_PACKAGE])
    assert CONFIGS.joinpath("train.yaml").is_file() and CONFIGS.joinpath("eval.yaml").is_file()


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_file_starts_with_its_command_and_names_its_runs(name, tmp_path):
    lines = CONFIGS.joinpath("experiment", f"{name}.yaml").read_text().splitlines()
    # Hydra reads the package header only at the very top, so the command comes second
    assert lines[0] == "# @package _global_"
    assert lines[1].startswith(f"# python scripts/train.py experiment={name}")
    assert compose_config([f"experiment={name}"], tmp_path).name == name


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_fast_dev_run_and_logs_its_monitored_metrics(
    name, precision, tiny_data_dir, tmp_path
):
    overrides = [
        f"experiment={name}", "trainer.fast_dev_run=true", f"trainer.precision={precision}", *QUIET
    ]  # fmt: skip
    cfg = compose_config([*overrides, *TINY_DATA_OVERRIDES.get(name, [])], tmp_path)
    assert "experiment" not in cfg, "experiment keys landed under `experiment:` (package header?)"
    metrics = train(cfg)
    monitored = {c.monitor for c in cfg.callbacks.values() if c is not None and "monitor" in c}
    if cfg.task.get("scheduler") is not None:
        monitored.add(cfg.task.scheduler_monitor)
    assert monitored <= set(metrics), f"monitored but never logged: {monitored - set(metrics)}"
    assert any(key.startswith("test/") for key in metrics)
    assert compose_config([f"experiment={name}"], tmp_path, "eval").task == cfg.task


COMMON_TRAINER_OVERRIDES = [
    "trainer.max_time=00:00:01:00",
    "trainer.precision=bf16-mixed",
    "trainer.accelerator=cpu",
    "trainer.devices=1",
    "trainer.strategy=auto",
    "trainer.val_check_interval=0.5",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=1",
    "trainer.max_steps=10",
    "trainer.accumulate_grad_batches=2",
    "trainer.num_sanity_val_steps=0",
    "trainer.gradient_clip_val=1.0",
]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_common_trainer_overrides_need_no_plus(name, tmp_path):
    cfg = compose_config([f"experiment={name}", *COMMON_TRAINER_OVERRIDES], tmp_path)
    for override in COMMON_TRAINER_OVERRIDES:
        key, value = override.removeprefix("trainer.").split("=")
        assert str(cfg.trainer[key]) == value


def test_declared_trainer_defaults_are_lightning_s(tmp_path):
    trainer = build_trainer(compose_config(["logger=csv", *QUIET], tmp_path))
    assert trainer.limit_train_batches == 1.0 and trainer.val_check_interval == 1.0
    assert trainer.num_sanity_val_steps == 2 and trainer.max_steps == -1
    assert trainer.accumulate_grad_batches == 1 and trainer.precision == "32-true"


@pytest.mark.parametrize("name", ["sst2", "tiny_sentiment"])
def test_sentiment_presets_name_their_classes(name, tiny_data_dir, tmp_path):
    data = instantiate(compose_config([f"experiment={name}"], tmp_path).data)
    assert data.describe().labels == ["negative", "positive"]  # on the confusion matrices


def test_csv_series_without_a_path_names_the_missing_key(tmp_path):
    with pytest.raises(MissingMandatoryValue, match="data.series.path"):
        train(compose_config(["experiment=csv_series"], tmp_path))


def test_default_job_is_the_sine_experiment(tmp_path):
    default = compose_config([], tmp_path)
    sine = compose_config(["experiment=sine"], tmp_path)
    assert default.name == "train" and sine.name == "sine"
    default.name = sine.name
    assert OmegaConf.to_container(default) == OmegaConf.to_container(sine)
    assert default.data.seq_len == 50


@pytest.mark.parametrize(
    "override, key",
    [
        ("trainer.max_epoch=3", "max_epoch"),
        ("model.hiden_size=8", "hiden_size"),
        ("seeed=1", "seeed"),
    ],
)
def test_a_typo_in_an_override_fails_naming_the_key(override, key, tmp_path):
    with pytest.raises(ConfigCompositionException, match=key):
        compose_config([override], tmp_path)


def test_optuna_search_and_slurm_launcher_compose():
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["hparams_search=optuna", "hydra/launcher=slurm"],
            return_hydra_config=True,
        )
    assert cfg.optimized_metric == "val/rmse"
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert set(cfg.hydra.sweeper.params) == {"model.cell", "model.hidden_size", "task.optimizer.lr"}
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    assert cfg.hydra.launcher.tasks_per_node == 1


def test_learning_rate_scheduler_from_the_command_line(tmp_path):
    halve = "{_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:1,gamma:0.5}"
    overrides = [*SMALL_SINE, "trainer.max_epochs=2", f"task.scheduler={halve}"]
    metrics = train(compose_config(overrides, tmp_path))
    assert metrics["lr-Adam"] == pytest.approx(0.003 / 2)  # logged at the start of epoch 2


OPTIMIZERS = sorted(
    p.name.removesuffix(".yaml") for p in CONFIGS.joinpath("task/optimizer").iterdir()
)
SCHEDULERS = sorted(
    p.name.removesuffix(".yaml") for p in CONFIGS.joinpath("task/scheduler").iterdir()
)


def test_every_task_takes_its_optimizer_and_scheduler_from_the_shared_groups(tmp_path):
    for task in ("classification", "language_model", "regression", "seq2seq"):
        cfg = compose_config([f"task={task}"], tmp_path)
        assert cfg.task.optimizer._target_ == "torch.optim.Adam"
        assert cfg.task.scheduler is None
    assert {"adam", "adamw", "sgd"} <= set(OPTIMIZERS)
    assert {"none", "cosine", "plateau"} <= set(SCHEDULERS)


@pytest.mark.parametrize(
    "optimizer, scheduler",
    [(name, "none") for name in OPTIMIZERS]
    + [("adam", name) for name in SCHEDULERS if name != "none"],
)
def test_optimizer_and_scheduler_groups_train(optimizer, scheduler, tmp_path):
    overrides = [*SMALL_SINE, "trainer.max_epochs=2", f"task/optimizer={optimizer}"]
    cfg = compose_config([*overrides, f"task/scheduler={scheduler}"], tmp_path)
    assert cfg.task.optimizer.lr == 0.003  # the regression task's rate, whatever the optimizer
    metrics = train(cfg)
    assert torch.isfinite(torch.tensor(metrics["test/rmse"]))
    if scheduler == "cosine":  # annealed over trainer.max_epochs: half-way at epoch 2 of 2
        assert metrics[f"lr-{cfg.task.optimizer._target_.split('.')[-1]}"] == pytest.approx(
            0.003 / 2
        )


def test_unknown_optimizer_option_names_the_group(tmp_path):
    with pytest.raises(ConfigCompositionException, match="task/optimizer"):
        compose_config(["task/optimizer=adamm"], tmp_path)


def test_same_seed_gives_the_same_metrics(tmp_path):
    first = train(compose_config(SMALL_SINE, tmp_path / "a"))
    second = train(compose_config(SMALL_SINE, tmp_path / "b"))
    assert first == second


def test_norm_auto_tests_the_candidate_with_the_lower_validation_loss(tmp_path):
    seasonal_sine = [*SMALL_SINE, "data.season=10"]
    auto = train(compose_config([*seasonal_sine, "model.norm=auto"], tmp_path / "auto"))
    scores = {name: auto[f"select/{name}_val_loss"] for name in ("last", "seasonal")}
    chosen = chosen_value(auto)
    assert scores[chosen] == min(scores.values())
    alone = train(compose_config([*seasonal_sine, f"model.norm={chosen}"], tmp_path / "alone"))
    assert auto["test/rmse"] == alone["test/rmse"]
    for name in scores:
        assert (tmp_path / "auto" / f"norm_{name}" / "checkpoints" / "last.ckpt").is_file()


def test_norm_auto_without_a_season_is_norm_last(tmp_path):
    auto = train(compose_config([*SMALL_SINE, "model.norm=auto"], tmp_path / "auto"))
    last = train(compose_config([*SMALL_SINE, "model.norm=last"], tmp_path / "last"))
    assert {key for key in auto if key.startswith("select/")} == {"select/last_val_loss"}
    assert auto["test/rmse"] == last["test/rmse"]
    assert (tmp_path / "auto" / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize("override", ["train=false", "ckpt_path=last.ckpt"])
def test_norm_auto_needs_training_from_scratch(override, tmp_path):
    with pytest.raises(ValueError, match=r"model.norm=auto is chosen by fitting from scratch"):
        train(compose_config([*SMALL_SINE, "model.norm=auto", override], tmp_path))


# Early stopping and the scheduler carry state across epochs; with mode=max on val/loss the best
# checkpoint is the first epoch's, so last.ckpt differs from it from the second epoch on.
RESUMABLE = [*SMALL_SINE, "callbacks.model_checkpoint.mode=max"]


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize(
    "scheduler",
    [
        ["task/scheduler=none"],
        ["task/scheduler=cosine"],
        ["task/scheduler=plateau"],
        # halves the rate after every epoch (val/loss falls: no "improvement" for mode=max)
        ["task/scheduler=plateau", "task.scheduler.mode=max", "task.scheduler.patience=0"],
    ],
)
def test_resumed_run_ends_like_an_uninterrupted_one(scheduler, tmp_path):
    whole = train(
        compose_config([*RESUMABLE, *scheduler, "trainer.max_epochs=4"], tmp_path / "whole")
    )
    whole_last = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.ckpt")
    if "task.scheduler.patience=0" in scheduler:
        assert whole["lr-Adam"] == pytest.approx(0.003 / 4)  # the 1st epoch sets the best
    steps_per_epoch = whole_last["global_step"] // 4
    # interrupted after 2 of the 4 epochs (max_epochs stays 4, as in a run that was stopped)
    stop = [
        *RESUMABLE,
        *scheduler,
        "trainer.max_epochs=4",
        f"trainer.max_steps={2 * steps_per_epoch}",
    ]
    train(compose_config([*stop, "test=false"], tmp_path / "part"))
    part = tmp_path / "part" / "checkpoints"
    assert load_checkpoint(part / "last.ckpt")["epoch"] == 1  # the end of the second epoch
    assert not (part / "last.ckpt").is_symlink()  # the best is the first epoch's
    resume = [*RESUMABLE, *scheduler, "trainer.max_epochs=4", f"ckpt_path={part / 'last.ckpt'}"]
    resumed = train(compose_config(resume, tmp_path / "resumed"))
    resumed_last = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.ckpt")

    assert resumed == whole  # every final metric, the test of the best checkpoint included
    assert resumed_last["global_step"] == whole_last["global_step"] == 4 * steps_per_epoch
    assert resumed_last["epoch"] == whole_last["epoch"] == 3
    for name, weight in whole_last["state_dict"].items():
        assert torch.equal(resumed_last["state_dict"][name], weight), name
    assert resumed_last["lr_schedulers"] == whole_last["lr_schedulers"]
    assert (
        resumed_last["optimizer_states"][0]["param_groups"]
        == whole_last["optimizer_states"][0]["param_groups"]
    )


def test_last_checkpoint_is_the_last_epoch_even_when_it_did_not_improve(tmp_path):
    train(compose_config([*RESUMABLE, "trainer.max_epochs=3", "test=false"], tmp_path))
    checkpoints = tmp_path / "checkpoints"
    assert sorted(path.name for path in checkpoints.iterdir()) == [
        "best-epoch000.ckpt",
        "last.ckpt",
    ]
    last = load_checkpoint(checkpoints / "last.ckpt")
    assert last["epoch"] == 2
    assert (
        last["global_step"]
        == 3 * load_checkpoint(checkpoints / "best-epoch000.ckpt")["global_step"]
    )


def test_last_checkpoint_links_to_the_best_when_the_last_epoch_is_the_best(tmp_path):
    every_epoch_best = [
        "callbacks.model_checkpoint.monitor=epoch",
        "callbacks.model_checkpoint.mode=max",
    ]
    train(compose_config([*SMALL_SINE, *every_epoch_best, "test=false"], tmp_path))
    checkpoints = tmp_path / "checkpoints"
    assert sorted(path.name for path in checkpoints.iterdir()) == [
        "best-epoch002.ckpt",
        "last.ckpt",
    ]
    last = checkpoints / "last.ckpt"
    assert last.is_symlink() and last.readlink() == Path("best-epoch002.ckpt")  # no second copy
    assert load_checkpoint(last)["epoch"] == 2


def test_nan_loss_stops_the_run_with_a_clear_message(tmp_path):
    exploding = ["task.optimizer.lr=1e30", "model.cell=rnn_relu", "trainer.max_epochs=2"]
    with pytest.raises(
        FloatingPointError, match=r"non-finite train loss .* at epoch \d+, global step"
    ):
        train(compose_config([*SMALL_SINE, *exploding], tmp_path))


def test_nan_validation_loss_names_the_stage_and_batch(quiet_trainer):
    task = RegressionTask({"_target_": "seqmodels.models.SequenceRegressor", "hidden_size": 4})
    batches = DataLoader(TensorDataset(torch.full((4, 3, 1), float("nan")), torch.zeros(4, 1)))
    trainer = quiet_trainer()
    with pytest.raises(FloatingPointError, match=r"non-finite val loss \(\[nan\]\) .* val batch 0"):
        trainer.validate(task, batches, verbose=False)


def test_build_model_errors_name_the_problem():
    with pytest.raises(ValueError, match="needs a '_target_' key"):
        build_model({"hidden_size": 8})
    with pytest.raises(ValueError, match="cannot import 'seqmodels.models.Nope'"):
        build_model({"_target_": "seqmodels.models.Nope"})


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("run")
    overrides = [*SMALL_SINE, "trainer.max_epochs=2", "logger=tensorboard"]
    overrides += ["trainer.log_every_n_steps=2", "name=tiny-sine"]
    return overrides, output_dir, train(compose_config(overrides, output_dir))


def test_checkpoint_loads_without_hydra(trained_run):
    _, output_dir, _ = trained_run
    path = output_dir / "checkpoints" / "last.ckpt"
    assert torch.load(path, weights_only=True)["hyper_parameters"]["model"]["hidden_size"] == 8
    task = RegressionTask.load_from_checkpoint(path)
    assert task.model(torch.randn(2, 10, 1)).shape == (2, 1)


def test_evaluate_reproduces_the_test_metrics_of_training(trained_run, tmp_path):
    overrides, output_dir, metrics = trained_run
    (best,) = (output_dir / "checkpoints").glob("best-*.ckpt")
    eval_overrides = [o for o in overrides if not o.startswith("trainer.max_epochs")]
    tested = evaluate(compose_config([*eval_overrides, f"ckpt_path={best}"], tmp_path, "eval"))
    assert tested == {k: v for k, v in metrics.items() if k.startswith("test/")}


def test_evaluate_refuses_data_other_than_the_checkpoint_s(trained_run, tmp_path):
    overrides, output_dir, _ = trained_run
    other = [
        *overrides,
        "data.series.amplitude=2.0",
        f"ckpt_path={output_dir}/checkpoints/last.ckpt",
    ]
    with pytest.raises(ValueError, match="target_scale, mase_scale differ from the task.s"):
        evaluate(compose_config(other, tmp_path, "eval"))


def eval_job(ckpt: Path, overrides: list[str], output_dir: Path):
    """The evaluation job as ``scripts/evaluate.py ckpt_path=... *overrides`` builds it."""
    command_line = [f"ckpt_path={ckpt}", *overrides]
    return job_config(compose_config(command_line, output_dir, "eval"), command_line)


def test_evaluate_needs_no_experiment_the_checkpoint_knows_its_run(trained_run, tmp_path):
    _, output_dir, metrics = trained_run
    (best,) = (output_dir / "checkpoints").glob("best-*.ckpt")
    cfg = eval_job(best, QUIET, tmp_path)  # the defaults would be a 2000-point sine
    assert cfg.name == "tiny-sine" and cfg.data.series.length == 300
    assert evaluate(cfg) == {k: v for k, v in metrics.items() if k.startswith("test/")}
    # data.* overrides change the training run's data; here to data the checkpoint refuses
    other = eval_job(best, [*QUIET, "data.series.amplitude=2.0"], tmp_path)
    with pytest.raises(ValueError, match="target_scale, mase_scale differ from the task.s"):
        evaluate(other)


def test_evaluate_with_another_experiment_names_the_checkpoint_s(
    trained_run, tiny_data_dir, tmp_path
):
    _, output_dir, _ = trained_run
    cfg = eval_job(
        output_dir / "checkpoints" / "last.ckpt", ["experiment=tiny_sentiment"], tmp_path
    )
    with pytest.raises(
        ValueError,
        match=r"this checkpoint was trained with experiment=tiny-sine \(the checkpoint .*last.ckpt\): "
        r"its task and data differ from experiment=tiny_sentiment.s \(seqmodels.tasks.regression.RegressionTask, "
        r"seqmodels.tasks.regression.SeriesDataModule\). Pass experiment=tiny-sine, or leave experiment= out",
    ):
        evaluate(cfg)


def test_evaluate_reads_the_run_config_beside_a_checkpoint_without_one(trained_run, tmp_path):
    _, output_dir, metrics = trained_run
    (best,) = (output_dir / "checkpoints").glob("best-*.ckpt")
    checkpoint = torch.load(best, weights_only=True)
    config = checkpoint.pop("seqmodels_run")["config"]
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(checkpoint, run / "checkpoints" / "old.ckpt")
    (run / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.create(config), run / ".hydra" / "config.yaml")
    cfg = eval_job(run / "checkpoints" / "old.ckpt", QUIET, tmp_path / "eval")
    assert evaluate(cfg) == {k: v for k, v in metrics.items() if k.startswith("test/")}
    # neither stored nor beside it: a wrong experiment is named as such
    (run / ".hydra" / "config.yaml").unlink()
    wrong = eval_job(run / "checkpoints" / "old.ckpt", ["experiment=translate"], tmp_path / "eval")
    with pytest.raises(
        ValueError,
        match=r"old.ckpt is not a checkpoint of Seq2SeqTask .*: it was trained with another "
        r"experiment, and it does not say which .*; pass the one it was trained with: "
        r"experiment=<name>",
    ):
        evaluate(wrong)


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``tag -> [(step, value), ...]`` of every scalar TensorBoard finds under ``log_dir``."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tensor_util.make_ndarray(value.tensor))
                    found.setdefault(value.tag, []).append((event.step, number))
    return found


def test_tensorboard_gets_hparams_with_the_final_metrics(trained_run):
    _, output_dir, metrics = trained_run
    events = EventAccumulator(str(output_dir / "tensorboard")).Reload()
    assert "_hparams_/session_start_info" in events.summary_metadata
    assert {"val/rmse", "test/rmse", "test/persistence_rmse"} <= set(events.Tags()["scalars"])
    (session,) = hparams_sessions(output_dir / "tensorboard")
    assert session["experiment"] == "tiny-sine" and session["model"] == "SequenceRegressor"
    assert session["model/cell"] == "lstm" and session["task/optimizer"] == "Adam"
    assert float(session["task/optimizer/lr"]) == 0.003
    curves = scalars(output_dir / "tensorboard")
    last_step = max(step for points in curves.values() for step, _ in points)
    # the final metrics end the curves, at the last step (not as lone points at step 0)
    for name in ("test/rmse", "val/rmse", "train/loss_epoch"):
        assert curves[name][-1] == (last_step, pytest.approx(metrics[name])), name
        assert all(step > 0 for step, _ in curves[name]), name
    train_steps = [step for step, _ in curves["train/loss"]]
    assert len(train_steps) >= 4 and train_steps == sorted(train_steps)  # a per-step curve
    saved = OmegaConf.load(output_dir / "tensorboard" / "hparams.yaml")
    assert saved.experiment == "tiny-sine" and saved["model/hidden_size"] == 8


def hparams_sessions(log_dir: Path) -> list[dict[str, str | float | bool]]:
    """The hyperparameters of every HPARAMS session TensorBoard finds under ``log_dir``."""
    sessions = []
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    hparams = data.session_start_info.hparams
                    sessions.append(
                        {name: getattr(v, v.WhichOneof("kind")) for name, v in hparams.items()}
                    )
    return sessions


def test_the_vocabulary_stays_in_the_checkpoint_and_out_of_the_logged_hparams(
    tiny_data_dir, tmp_path
):
    # default_hp_metric=true: Lightning itself would log the task's hyperparameters as a session
    overrides = ["experiment=tiny_sentiment", "trainer.max_epochs=1", "logger=[tensorboard,csv]"]
    cfg = compose_config(
        [*overrides, "logger.tensorboard.default_hp_metric=true", *QUIET], tmp_path
    )
    train(cfg)
    (session,) = hparams_sessions(tmp_path / "tensorboard")  # the config, with the final metrics
    assert "model/cell" in session and "vocab" not in session
    assert session["experiment"] == "tiny_sentiment"
    logged = [path for name in ("tensorboard", "csv") for path in (tmp_path / name).rglob("*")]
    assert not [path for path in logged if path.is_file() and b"<unk>" in path.read_bytes()]
    last = tmp_path / "checkpoints" / "last.ckpt"
    vocab = torch.load(last, weights_only=True)["hyper_parameters"]["vocab"]
    assert vocab[:2] == ["<pad>", "<unk>"] and {"good", "sad"} <= set(vocab)
    task = ClassificationTask.load_from_checkpoint(last)
    assert task.vocab.itos == vocab
    assert task.predict(["very good", "not sad"])[0] in task.labels


def run_script(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tmp_path):
    args = [*SMALL_SINE, "trainer=ddp", "trainer.devices=2", "trainer.max_epochs=2"]
    result = run_script([*args, f"hydra.run.dir={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/rmse" in result.stdout


@pytest.mark.slow
def test_ddp_language_model_tests_like_one_process_with_all_the_streams(tiny_data_dir, tmp_path):
    shakespeare = ["experiment=shakespeare", "data.seq_len=16", "logger=csv", *QUIET]
    ddp = ["trainer=ddp", "trainer.devices=2", "trainer.max_epochs=1", "data.batch_size=2"]
    result = run_script([*shakespeare, *ddp, f"hydra.run.dir={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if line.split()[:1] == ["test/loss"]]
    # the 2 processes test 2 streams each: one process with 4 streams sees the same characters
    (best,) = (tmp_path / "checkpoints").glob("best-*.ckpt")
    one = compose_config(
        [*shakespeare, "data.batch_size=4", f"ckpt_path={best}"], tmp_path / "one", "eval"
    )
    assert evaluate(one)["test/loss"] == pytest.approx(float(line.split()[1]), rel=1e-5)


@pytest.mark.slow
def test_multirun_sweep_over_cells(tmp_path):
    args = ["-m", "model.cell=rnn,lstm,gru", *SMALL_SINE, "trainer.fast_dev_run=true"]
    result = run_script([*args, f"hydra.sweep.dir={tmp_path}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Run directory:") == 3


@pytest.mark.slow
def test_optuna_search_runs_trials_and_reports_the_best(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    args = ["-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", *SMALL_SINE]
    result = run_script(
        [*args, "trainer.fast_dev_run=true", f"hydra.sweep.dir={tmp_path}"], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "best_value" in (tmp_path / "optimization_results.yaml").read_text()


# A checkpoint written by seqmodels 0.1.0: its stored run config names the classes by the paths of
# that release (seqmodels.tasks.RegressionTask, seqmodels.data.SeriesDataModule, ...).
CHECKPOINT_0_1_0 = ROOT / "tests" / "fixtures" / "sine-0.1.0.ckpt"


def test_a_0_1_0_checkpoint_loads_predicts_and_evaluates(tmp_path):
    from seqmodels.tasks.regression import Forecaster

    task = RegressionTask.load_from_checkpoint(CHECKPOINT_0_1_0)
    window = torch.linspace(-0.5, 0.5, task.model.seq_len)
    forecast = Forecaster.from_checkpoint(CHECKPOINT_0_1_0).forecast(window, 3)
    torch.testing.assert_close(forecast, task.forecast(window, 3))
    cfg = eval_job(CHECKPOINT_0_1_0, QUIET, tmp_path)
    assert cfg.task._target_ == "seqmodels.tasks.regression.task.RegressionTask"
    assert cfg.data._target_ == "seqmodels.tasks.regression.data.SeriesDataModule"
    assert cfg.data.series._target_ == "seqmodels.tasks.regression.data.sine_wave"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        metrics = evaluate(cfg)
    assert set(metrics) >= {"test/loss", "test/rmse", "test/persistence_rmse"}
