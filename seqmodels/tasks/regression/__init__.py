"""Forecasting (time-series regression): windows of a series -> the next values, beside baselines.

Everything about the task is in this folder: ``task.py`` (the LightningModule), ``data.py``
(the data module and its spec) and ``predictor.py`` (inference with torch only). Names are
imported on first use, so importing the predictor does not import Lightning.

``model.norm=auto`` (one fit per window normalisation, the best on validation tested) is
:meth:`RegressionTask.model_choice <seqmodels.tasks.regression.task.RegressionTask.model_choice>`.
"""

from seqmodels.tasks._names import lazy_names

_EXPORTS = {
    "RegressionTask": ".task",
    "STRATEGIES": ".task",
    "SeriesDataModule": ".data",
    "SeriesSpec": ".data",
    "cosine_wave": ".data",
    "make_windows": ".data",
    "read_csv_series": ".data",
    "sine_wave": ".data",
    "Forecaster": ".predictor",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_names(__name__, _EXPORTS)
