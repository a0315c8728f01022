"""Test a checkpoint: ``evaluate(cfg) -> metrics``, and its Hydra command line.

The checkpoint knows the run that trained it: its config is stored in the checkpoint (and in the
run's ``.hydra/config.yaml`` beside the ``checkpoints/`` folder), so the experiment is optional::

    python scripts/evaluate.py ckpt_path=outputs/sst2/<date>_<time>/checkpoints/last.ckpt
    python scripts/evaluate.py ckpt_path=... data.test_file=my_reviews.tsv trainer.devices=2

The data and task settings are the training run's; ``data.*`` and ``task.*`` overrides on the
command line change them, and the trainer, logger and callbacks are the evaluation's own. Giving
``experiment=NAME`` (or a ``data=`` / ``task=`` group) uses that composition instead, and a
checkpoint trained with another task or data module is refused with the experiment to pass.

The model and its data-dependent arguments (sizes, scaler, vocabulary) come from the checkpoint,
loaded with ``TaskClass.load_from_checkpoint`` (the class named by ``cfg.task._target_``); they
must equal those the data module describes (:meth:`seqmodels.data.base.DataSpec.check_task`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import hydra
import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.utils import get_class, get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from seqmodels.models.spec import run_config_file
from seqmodels.train import CONFIG_PACKAGE, StoreRunConfig, build_trainer, job_errors, model_choice

# Groups that choose what is evaluated; an override of one of them means "compose it as given".
COMPOSING_GROUPS = ("experiment", "data", "model", "task")


def trained_config(ckpt_path: str | Path) -> tuple[DictConfig, str] | None:
    """The config of the run that wrote a checkpoint, and where it was found.

    It is read from the checkpoint itself (training runs store it, see
    :class:`seqmodels.train.StoreRunConfig`), or else from the run's ``.hydra/config.yaml``
    (:func:`seqmodels.models.spec.run_config_file`: in the folder above ``checkpoints/``, or two
    folders above it for the candidates of a run that chose a model argument on the validation
    data, ``<argument>_<value>/checkpoints``, whose value is then set, see
    :func:`seqmodels.train.train`). Deprecated ``_target_`` paths are replaced by current ones
    (:func:`current_targets`). None when neither exists. The torch-only
    :func:`seqmodels.models.spec.trained_run` reads the same, without OmegaConf.
    """
    path = Path(ckpt_path)
    stored = torch.load(path, map_location="cpu", weights_only=True).get(StoreRunConfig.KEY)
    if stored is not None:
        return current_targets(OmegaConf.create(stored["config"])), f"the checkpoint {path}"
    config_file = run_config_file(path)
    if config_file is None:
        return None
    config = current_targets(OmegaConf.load(config_file))
    choice = model_choice(config)
    folder = path.resolve().parent.parent.name  # <argument>_<value> for a candidate
    if choice is not None:
        value = folder.removeprefix(f"{choice.argument}_")
        if value in choice.values and value != folder:
            config.model[choice.argument] = value
    return config, str(config_file)


def current_targets(config: DictConfig) -> DictConfig:
    """``config`` with every ``_target_`` that names a deprecated path (one that warns when it is
    imported, such as ``seqmodels.data.SeriesDataModule``) replaced by the object's own path, so
    that the configs of runs made before a move keep working and compare equal to today's."""
    for node in _target_nodes(config):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            try:
                found = get_object(node._target_)
            except Exception:  # not importable: building it reports the error
                continue
        if any(issubclass(w.category, DeprecationWarning) for w in caught):
            node._target_ = f"{found.__module__}.{found.__qualname__}"
    return config


def _same_target(a: str | None, b: str | None) -> bool:
    """Whether two ``_target_`` paths name the same object (``seqmodels.tasks.regression.X`` and
    ``seqmodels.tasks.regression.data.X`` do)."""
    if a == b:
        return True
    try:
        return get_object(a) is get_object(b)
    except Exception:
        return False


def _target_nodes(node: object) -> list[DictConfig]:
    if isinstance(node, DictConfig):
        children = [child for key in node for child in _target_nodes(node._get_node(key))]
        return [node, *children] if isinstance(node.get("_target_"), str) else children
    if isinstance(node, ListConfig):
        return [child for item in node for child in _target_nodes(item)]
    return []


def job_config(cfg: DictConfig, overrides: Sequence[str] = ()) -> DictConfig:
    """The evaluation job for ``cfg.ckpt_path``: the training run's data, model and task
    (:func:`trained_config`) with the ``data.``/``model.``/``task.`` overrides of ``overrides``
    applied, and everything else (trainer, logger, callbacks, paths, seed) from ``cfg``.

    ``cfg`` is returned as it is when ``overrides`` choose an experiment or a data, model or task
    group (the command line composes the job), or when the training config is not found.

    Args:
        cfg: the composed ``eval`` config.
        overrides: the command line's overrides (``HydraConfig.get().overrides.task``).
    """
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    if any(override.key_or_group in COMPOSING_GROUPS for override in parsed):
        return cfg
    found = trained_config(cfg.ckpt_path)
    if found is None:
        return cfg
    trained, _ = found
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.name = trained.get("name", cfg.name)
        for group in ("data", "model", "task"):
            cfg[group] = trained[group]
        for override in parsed:
            key = override.key_or_group
            if key.split(".")[0] in ("data", "model", "task") and "." in key:
                if override.is_delete():
                    parent, _, leaf = key.rpartition(".")
                    OmegaConf.select(cfg, parent).pop(leaf, None)
                else:
                    OmegaConf.update(cfg, key, override.value(), force_add=True)
    return cfg


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Run the test set of ``cfg.data`` through the checkpoint ``cfg.ckpt_path``.

    Raises:
        FileNotFoundError: no checkpoint at ``cfg.ckpt_path``.
        ValueError: the checkpoint was trained with another task or data module than
            ``cfg``'s (the message names its experiment), or its data-dependent values differ
            from those of ``cfg.data``.
    """
    path = Path(cfg.ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path: no checkpoint at {path}")
    _check_experiment(cfg, path)
    L.seed_everything(cfg.seed, workers=True)
    task_class = get_class(cfg.task._target_)
    try:
        task = task_class.load_from_checkpoint(path, map_location="cpu")
    except TypeError as error:  # hyperparameters of another task class
        raise ValueError(
            f"{path} is not a checkpoint of {task_class.__name__} ({error}): it was trained with "
            "another experiment, and it does not say which (no stored config, no .hydra/ "
            "beside it); pass the one it was trained with: experiment=<name>"
        ) from error
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.describe().check_task(task.hparams)
    trainer = build_trainer(cfg)
    metrics: dict[str, float] = {}
    for results in trainer.test(task, datamodule=datamodule):
        metrics.update({name: float(value) for name, value in results.items()})
    return metrics


def _check_experiment(cfg: DictConfig, path: Path) -> None:
    """Refuse a checkpoint trained with another task or data module than ``cfg``'s."""
    found = trained_config(path)
    if found is None:
        return
    trained, source = found
    differ = [
        group
        for group in ("task", "data")
        if not _same_target(trained[group].get("_target_"), cfg[group].get("_target_"))
    ]
    if differ:
        name = trained.get("name", "<name>")
        raise ValueError(
            f"this checkpoint was trained with experiment={name} ({source}): its "
            f"{' and '.join(differ)} differ from experiment={cfg.name}'s "
            f"({', '.join(str(trained[g]._target_) for g in differ)}). Pass experiment={name}, "
            "or leave experiment= out to evaluate it with its own settings"
        )


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="eval")
def main(cfg: DictConfig) -> None:
    """Command line entry point: prints the test metrics."""
    with job_errors(HydraConfig.get().runtime.output_dir):
        metrics = evaluate(job_config(cfg, HydraConfig.get().overrides.task))
        print(f"\nTest metrics of {cfg.ckpt_path}:")
        for name, value in sorted(metrics.items()):
            print(f"  {name:28s} {value:.6g}")


if __name__ == "__main__":
    main()
