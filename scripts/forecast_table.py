"""Run the csv_series job on every real series of the data directory and print a results table.

Each row is one run of ``python scripts/train.py experiment=csv_series`` with the series' path,
column and season (pollution: pm2.5 with its missing values interpolated, 24-hour windows and
bigger batches), plus the overrides given on the command line, which apply to every series::

    SEQMODELS_DATA_DIR=../shared/data python scripts/forecast_table.py
    python scripts/forecast_table.py model.impl=torch          # the torch.nn twin
    python scripts/forecast_table.py model.norm=none seed=1    # another setting, another seed

The table gives the model's test RMSE and MASE, each baseline's test RMSE (persistence, seasonal
naive, the MLP trained beside the model) and the ratio of the model's RMSE to the best of them
(below 1: the model wins). Runs write under ``outputs/forecast_table/<series>``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from hydra import compose, initialize_config_module

from seqmodels.train import CONFIG_PACKAGE, train

# name -> overrides of the csv_series job
SERIES = {
    "monthly-car-sales": ["data.series.column=Sales", "data.season=12"],
    "monthly_champagne_sales": ["data.series.column=Sales", "data.season=12"],
    "monthly-robberies": ["data.series.column=Robberies", "data.season=12"],
    "monthly-writing-paper-sales": ["data.series.column=Sales", "data.season=12"],
    "monthly-mean-temp": ["data.series.column=Temperature", "data.season=12"],
    "monthly-shampoo-sales": ["data.series.column=Sales", "data.season=12"],
    "daily-max-temperatures": ["data.series.column=Temperature"],
    "yearly-water-usage": ["data.series.column=Water"],
    "pollution": [
        "data.series.column=pm2.5",
        "data.series.missing=interpolate",
        "data.seq_len=24",
        "data.season=24",
        "data.batch_size=256",
    ],
}
BASELINES = ("persistence", "seasonal_naive", "mlp")


def run(name: str, overrides: list[str], output_root: Path) -> dict[str, float]:
    """The test metrics of the csv_series job on one series."""
    job = [
        "experiment=csv_series",
        f"data.series.path=series/{name}.csv",
        *SERIES[name],
        "callbacks.rich_progress_bar=null",
        "logger=csv",
        *overrides,
        f"paths.output_dir={output_root / name}",
    ]
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        return train(compose("train", overrides=job))


def row(name: str, metrics: dict[str, float], seconds: float) -> str:
    rmse = metrics["test/rmse"]
    baselines = [metrics.get(f"test/{b}_rmse", math.nan) for b in BASELINES]
    best = min(value for value in baselines if not math.isnan(value))
    cells = [f"{value:.4g}" if not math.isnan(value) else "—" for value in baselines]
    return (
        f"| {name} | {rmse:.4g} | {metrics['test/mase']:.3f} | {' | '.join(cells)} | "
        f"{rmse / best:.3f} | {seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    parser.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    parser.add_argument("--output", type=Path, default=Path("outputs/forecast_table"))
    args = parser.parse_args()
    lines = [
        "| series | RMSE | MASE | persistence RMSE | seasonal naive RMSE | MLP RMSE "
        "| RMSE / best baseline | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in args.series:
        start = time.perf_counter()
        metrics = run(name, args.overrides, args.output)
        lines.append(row(name, metrics, time.perf_counter() - start))
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
