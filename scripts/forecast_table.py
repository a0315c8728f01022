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

When ``darts`` is installed (it is not a dependency of seqmodels: ``pip install darts``), each row
also gets Darts' ``RNNModel`` (LSTM) on the same split: fitted on the training part, early-stopped
on the validation part, and scored one step ahead on the same test points, with the same window
length, width and epoch budget as the csv_series job (``--no-darts`` leaves it out).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from pathlib import Path

from hydra import compose, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig

from seqmodels.train import CONFIG_PACKAGE, chosen_value, train

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


def job_config(name: str, overrides: list[str], output_root: Path) -> DictConfig:
    """The composed csv_series job of one series."""
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
        return compose("train", overrides=job)


def darts_lstm_rmse(cfg: DictConfig) -> float:
    """Test RMSE of Darts' ``RNNModel`` (LSTM) on the split and test points of the job ``cfg``.

    The target column alone, scaled by Darts' ``Scaler`` (min-max) fitted on the training part;
    input chunks of ``data.seq_len``, ``model.hidden_size`` units, Adam at Darts' default rate,
    at most ``trainer.max_epochs`` epochs with early stopping on the validation loss (patience of
    the job's early stopping); one-step forecasts over the test part without retraining.
    """
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import RNNModel
    from lightning.pytorch.callbacks import EarlyStopping

    if cfg.data.horizon != 1:
        raise ValueError("the Darts comparison is one step ahead: run it with data.horizon=1")
    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.setup("fit")
    seq_len = datamodule.seq_len
    n_train, n_val = len(datamodule.train_set), len(datamodule.val_set)
    values = datamodule.series[:, 0].double().numpy()
    series = TimeSeries.from_values(values)
    # window i reads points i .. i + seq_len - 1 and predicts point i + seq_len
    train_end, test_start = n_train + seq_len, n_train + n_val + seq_len
    scaler = Scaler().fit(series[:train_end])
    scaled = scaler.transform(series)
    patience = cfg.callbacks.early_stopping.patience
    model = RNNModel(
        model="LSTM",
        input_chunk_length=seq_len,
        training_length=seq_len + 1,
        hidden_dim=cfg.model.hidden_size,
        batch_size=cfg.data.batch_size,
        n_epochs=cfg.trainer.max_epochs,
        random_state=cfg.seed,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "callbacks": [EarlyStopping("val_loss", patience=patience)],
        },
    )
    model.fit(scaled[:train_end], val_series=scaled[n_train:test_start], verbose=False)
    forecast = model.historical_forecasts(
        scaled, start=test_start, forecast_horizon=1, retrain=False, verbose=False
    )
    predicted = scaler.inverse_transform(forecast).values()[:, 0]
    errors = predicted - values[test_start:]
    return math.sqrt((errors**2).mean())


def row(
    name: str, norm: str, metrics: dict[str, float], seconds: float, darts: float | None
) -> str:
    rmse = metrics["test/rmse"]
    baselines = [metrics.get(f"test/{b}_rmse", math.nan) for b in BASELINES]
    best = min(value for value in baselines if not math.isnan(value))
    cells = [f"{value:.4g}" if not math.isnan(value) else "—" for value in baselines]
    darts_cells = [] if darts is None else [f"{darts:.4g}", f"{rmse / darts:.3f}"]
    return (
        f"| {name} | {norm} | {rmse:.4g} | {metrics['test/mase']:.3f} | {' | '.join(cells)} | "
        f"{rmse / best:.3f} | {' | '.join([*darts_cells, f'{seconds:.0f}'])} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    parser.add_argument("--series", nargs="+", choices=list(SERIES), default=list(SERIES))
    parser.add_argument("--output", type=Path, default=Path("outputs/forecast_table"))
    parser.add_argument("--no-darts", action="store_true", help="leave out Darts' RNNModel")
    args = parser.parse_args()
    with_darts = not args.no_darts and importlib.util.find_spec("darts") is not None
    darts_columns = " Darts LSTM RMSE | RMSE / Darts |" if with_darts else ""
    lines = [
        "| series | norm | RMSE | MASE | persistence RMSE | seasonal naive RMSE | MLP RMSE "
        f"| RMSE / best baseline |{darts_columns} seconds |",
        "|---|---|---|---|---|---|---|---|---|" + "---|---|" * with_darts,
    ]
    for name in args.series:
        cfg = job_config(name, args.overrides, args.output)
        start = time.perf_counter()
        metrics = train(cfg)
        seconds = time.perf_counter() - start
        darts = darts_lstm_rmse(cfg) if with_darts else None
        lines.append(row(name, chosen_value(metrics) or cfg.model.norm, metrics, seconds, darts))
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
