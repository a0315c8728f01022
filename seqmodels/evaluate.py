"""Test a checkpoint: ``evaluate(cfg) -> metrics``, and its Hydra command line.

Compose the experiment the checkpoint was trained with, so the data module is the same::

    python scripts/evaluate.py experiment=sine ckpt_path=outputs/<date>/<time>/checkpoints/last.ckpt

The model and its data-dependent arguments (sizes, scaler, vocabulary) come from the checkpoint,
loaded with ``TaskClass.load_from_checkpoint`` (the class named by ``cfg.task._target_``); they
must equal those the data module describes (:meth:`seqmodels.data.base.DataSpec.check_task`).
"""

from __future__ import annotations

from pathlib import Path

import hydra
import lightning as L
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig

from seqmodels.train import CONFIG_PACKAGE, build_trainer


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Run the test set of ``cfg.data`` through the checkpoint ``cfg.ckpt_path``."""
    path = Path(cfg.ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path: no checkpoint at {path}")
    L.seed_everything(cfg.seed, workers=True)
    task_class = get_class(cfg.task._target_)
    task = task_class.load_from_checkpoint(path, map_location="cpu")
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.describe().check_task(task.hparams)
    trainer = build_trainer(cfg)
    metrics: dict[str, float] = {}
    for results in trainer.test(task, datamodule=datamodule):
        metrics.update({name: float(value) for name, value in results.items()})
    return metrics


@hydra.main(version_base="1.3", config_path=f"pkg://{CONFIG_PACKAGE}", config_name="eval")
def main(cfg: DictConfig) -> None:
    """Command line entry point: prints the test metrics."""
    metrics = evaluate(cfg)
    print(f"\nTest metrics of {cfg.ckpt_path}:")
    for name, value in sorted(metrics.items()):
        print(f"  {name:28s} {value:.6g}")


if __name__ == "__main__":
    main()
