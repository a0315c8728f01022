r"""Read a forecasting target and its covariates from a CSV file as it comes.

:func:`read_csv_series` returns the target column, ``(T,)``, or with covariates one float tensor
``(T, F)``: column 0 is the target, then the numeric covariates in the order given, then one 0/1
column per category of each categorical covariate (the categories found in the file, in sorted
order), then two columns per calendar feature of a date column (:math:`\sin` and :math:`\cos` of
its phase: ``month`` over the year, ``day_of_week`` over the week, ``hour`` over the day).

Files are read as they come: a byte-order mark, quoted fields, CRLF line endings, blank lines and
columns that are not used are all fine. Bad input is an error that names the file, the column and
the line: a value that is not a number, a missing value (empty, ``NA``, ``NaN``, ``null``, ...)
when no ``missing`` option is chosen, an unknown column, a row too short, an undecodable byte.

Missing values, by the ``missing`` option:

* ``"drop"``: rows with a missing value in any column read are dropped (the series then skips
  those time steps);
* ``"ffill"``: each missing value takes the last value before it;
* ``"interpolate"``: numeric columns are interpolated linearly between the values around the gap,
  categorical ones take the last value before it.

With ``"ffill"`` and ``"interpolate"``, rows before the first value of some column (and with
``"interpolate"``, rows after its last value) have nothing to fill from and are dropped.
How many values were filled (per column) and how many rows dropped is logged.

In a Hydra job this function is ``data.series`` (``conf/data/csv_series.yaml``): its arguments are
set as ``data.series.<argument>=...``, and the error messages name them so.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import torch
from torch import Tensor

from seqmodels.data.files import data_file

__all__ = ["CALENDAR_FEATURES", "MISSING_OPTIONS", "read_csv_series"]

log = logging.getLogger(__name__)
OPTION = "data.series"  # where the arguments of read_csv_series live in a Hydra job

MISSING_OPTIONS = ("drop", "ffill", "interpolate")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
# period of each calendar feature, and how to read its phase from a datetime
CALENDAR_FEATURES = {
    "month": (12, lambda d: d.month - 1),
    "day_of_week": (7, lambda d: d.weekday()),
    "hour": (24, lambda d: d.hour),
}
DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d", "%Y-%m")


def read_csv_series(
    path: str | os.PathLike,
    column: str | int = 0,
    covariates: Sequence[str | int] = (),
    categorical: Sequence[str | int] = (),
    date_column: str | int | Sequence[str | int] | None = None,
    date_format: str | None = None,
    calendar: Sequence[str] = (),
    header: bool = True,
    missing: str | None = None,
    encoding: str = "utf-8-sig",
    delimiter: str = ",",
) -> Tensor:
    """A column of a CSV file, ``(T,)``, or with its covariates ``(T, F)``, target in column 0.

    Args:
        path: the CSV file; a relative path that is not found from the current directory is
            looked up under ``SEQMODELS_DATA_DIR`` (see :func:`seqmodels.data.files.data_file`).
        column: the target, the column to forecast, by header name or 0-based index.
        covariates: numeric input columns.
        categorical: input columns of labels, one-hot encoded.
        date_column: the column holding the date, or several columns joined with spaces
            (e.g. ``["year", "month", "day", "hour"]`` with ``date_format="%Y %m %d %H"``).
        date_format: ``datetime.strptime`` format of the date; by default ISO forms such as
            ``2024-01-31 13:00``, ``2024-01-31`` or ``2024-01`` are tried.
        calendar: features of the date to add: ``"month"``, ``"day_of_week"``, ``"hour"``.
        header: whether the first row holds column names.
        missing: ``None`` (a missing value is an error), ``"drop"``, ``"ffill"`` or
            ``"interpolate"`` (see the module's documentation).
        encoding: the file's text encoding (``"utf-8-sig"`` also reads plain UTF-8).
        delimiter: the field separator.

    Returns:
        the target alone, ``(T,)``, when no covariate, category or calendar feature is asked
        for; otherwise ``(T, 1 + len(covariates) + categories + 2 * len(calendar))``.

    Example::

        >>> read_csv_series("series/monthly-car-sales.csv", "Sales")  # doctest: +SKIP
        tensor([ 6550.,  8728., 12026., ...])
        >>> read_csv_series("series/monthly-car-sales.csv", "Sales", date_column="Month",
        ...                 calendar=["month"]).shape  # doctest: +SKIP
        torch.Size([108, 3])

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: an unknown option or column, a non-numeric or missing value, an unparseable
            date, a short row, an undecodable byte, no data rows; the message names the file,
            column and line.
    """
    _check_options(missing, calendar, date_column)
    path = Path(path).expanduser()
    if not path.is_file():
        path = data_file(path)
    names, rows = _read_rows(path, encoding, delimiter, header)
    table = _Table(path, names, rows)

    numeric = [table.numbers(column, missing, "column")]
    numeric += [table.numbers(name, missing, "covariates") for name in covariates]
    labels = [table.labels(name, missing, "categorical") for name in categorical]
    dates = []
    if date_column is not None:
        date_columns = [date_column] if isinstance(date_column, (str, int)) else list(date_column)
        dates = table.dates(date_columns, date_format)

    names_read = [column, *covariates, *categorical]
    gaps = {  # the rows where each column misses a value, before they are filled
        name: {i for i, value in enumerate(values) if value is None}
        for name, values in zip(names_read, [*numeric, *labels], strict=True)
    }
    keep = _rows_to_keep(numeric, labels, missing)
    if not keep:
        raise ValueError(
            f"no data rows in {path}" + (f" after missing={missing!r}" if rows else "")
        )
    if any(gaps.values()):
        _log_repairs(path, missing, gaps, len(rows), keep)
    columns = [torch.tensor([values[i] for i in keep], dtype=torch.float64) for values in numeric]
    columns += [column for values in labels for column in _one_hot(values, keep)]
    columns += [column for name in calendar for column in _calendar(name, dates, keep)]
    values = torch.stack(columns, 1).float()  # (T, F)
    return values[:, 0] if values.size(1) == 1 else values


def _check_options(
    missing: str | None, calendar: Sequence[str], date_column: object | None
) -> None:
    if missing not in (None, *MISSING_OPTIONS):
        raise ValueError(
            f"unknown missing={missing!r}; choose one of {[None, *MISSING_OPTIONS]} "
            f"({OPTION}.missing=...)"
        )
    unknown = [name for name in calendar if name not in CALENDAR_FEATURES]
    if unknown:
        raise ValueError(
            f"unknown calendar features {unknown}; choose from {list(CALENDAR_FEATURES)}"
        )
    if calendar and date_column is None:
        raise ValueError(f"calendar features {list(calendar)} need a date_column")


def _one_hot(values: list[str | None], keep: list[int]) -> list[Tensor]:
    """One column per category of the whole file, over the kept rows."""
    categories = sorted({v for v in values if v is not None})
    kept = [values[i] for i in keep]
    return [torch.tensor([v == c for v in kept], dtype=torch.float64) for c in categories]


def _calendar(name: str, dates: list[datetime], keep: list[int]) -> list[Tensor]:
    """The sine and cosine of a calendar feature's phase, over the kept rows."""
    period, phase = CALENDAR_FEATURES[name]
    angle = torch.tensor([phase(dates[i]) for i in keep], dtype=torch.float64)
    angle = angle * (2 * math.pi / period)
    return [angle.sin(), angle.cos()]


def _read_rows(
    path: Path, encoding: str, delimiter: str, header: bool
) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """Column names (or None) and the non-blank rows with their line numbers."""
    try:
        with open(path, newline="", encoding=encoding) as file:
            reader = csv.reader(file, delimiter=delimiter, skipinitialspace=True)
            rows = [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not valid {encoding} text ({error.reason} at byte {error.start}); "
            "give its encoding, e.g. encoding=latin-1"
        ) from error
    except csv.Error as error:
        raise ValueError(f"{path} is not a readable CSV file: {error}") from error
    if header and not rows:
        raise ValueError(f"{path} is empty: no header and no data rows")
    if header:
        _, names = rows.pop(0)
        return [name.strip() for name in names], rows
    return None, rows


class _Table:
    """Columns of the rows of one file, read with errors that name the file, column and line."""

    def __init__(self, path: Path, names: list[str] | None, rows: list[tuple[int, list[str]]]):
        self.path, self.names, self.rows = path, names, rows

    def index(self, column: str | int, option: str) -> int:
        if isinstance(column, int):
            return column
        if self.names is None:
            raise ValueError(
                f"column {column!r} is a name but {self.path} is read without a header "
                f"({OPTION}.header=false); give a 0-based index: {OPTION}.{option}=..."
            )
        if column not in self.names:
            raise ValueError(
                f"column {column!r} not found in {self.path}; its columns are {self.names}; "
                f"choose one: {OPTION}.{option}=..."
            )
        return self.names.index(column)

    def fields(self, column: str | int, option: str) -> list[tuple[int, str]]:
        """``(line, stripped field)`` of every row; ``option``: the argument naming the column."""
        index = self.index(column, option)
        fields = []
        for line, row in self.rows:
            if not -len(row) <= index < len(row):
                raise ValueError(
                    f"column {column!r} out of range at line {line} of {self.path}: row {row}"
                )
            fields.append((line, row[index].strip()))
        return fields

    def missing_error(self, column: str | int, line: int, field: str) -> ValueError:
        return ValueError(
            f"missing value {field!r} in column {column!r} at line {line} of {self.path}; "
            "choose how to handle missing values: "
            f"{OPTION}.missing={' | '.join(MISSING_OPTIONS)}"
        )

    def numbers(self, column: str | int, missing: str | None, option: str) -> list[float | None]:
        """The column's numbers, ``None`` where a value is missing."""
        values: list[float | None] = []
        for line, field in self.fields(column, option):
            if field.lower() in MISSING_TOKENS:
                if missing is None:
                    raise self.missing_error(column, line, field)
                values.append(None)
                continue
            try:
                value = float(field)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f"non-numeric value {field!r} in column {column!r} at line {line} of "
                    f"{self.path}"
                )
            values.append(value)
        return values

    def labels(self, column: str | int, missing: str | None, option: str) -> list[str | None]:
        """The column's labels, ``None`` where a value is missing."""
        labels: list[str | None] = []
        for line, field in self.fields(column, option):
            if field.lower() in MISSING_TOKENS:
                if missing is None:
                    raise self.missing_error(column, line, field)
                labels.append(None)
            else:
                labels.append(field)
        return labels

    def dates(self, columns: list[str | int], date_format: str | None) -> list[datetime]:
        parts = [self.fields(column, "date_column") for column in columns]
        formats = (date_format,) if date_format else DATE_FORMATS
        dates = []
        name = columns if len(columns) > 1 else columns[0]
        for fields in zip(*parts, strict=True):
            line, text = fields[0][0], " ".join(field for _, field in fields)
            for form in formats:
                try:
                    dates.append(datetime.strptime(text, form))
                    break
                except ValueError:
                    continue
            else:
                raise ValueError(
                    f"cannot read the date {text!r} of column {name!r} at line {line} of "
                    f"{self.path} (formats tried: {list(formats)}); give date_format"
                )
        return dates


def _log_repairs(
    path: Path, missing: str, gaps: dict[str | int, set[int]], count: int, keep: list[int]
) -> None:
    """Log what ``missing`` did: the values filled (per column) and the rows dropped."""
    dropped = count - len(keep)
    if missing == "drop":
        per_column = ", ".join(f"{name!r}: {len(rows)}" for name, rows in gaps.items() if rows)
        log.info(
            f"{path}: missing='drop' dropped {dropped} of {count} rows with a missing value "
            f"(missing values per column: {per_column})"
        )
        return
    kept = set(keep)
    filled = {name: len(rows & kept) for name, rows in gaps.items()}
    per_column = ", ".join(f"{name!r}: {n}" for name, n in filled.items() if n)
    how = "interpolated" if missing == "interpolate" else "forward-filled"
    ends = "before the first value" + (" or after the last" if missing == "interpolate" else "")
    log.info(
        f"{path}: missing={missing!r} {how} {sum(filled.values())} missing values "
        f"({per_column or 'none'}) and dropped {dropped} of {count} rows {ends} of some column"
    )


def _rows_to_keep(
    numeric: list[list[float | None]], labels: list[list[str | None]], missing: str | None
) -> list[int]:
    """Fill the missing values in place as ``missing`` says; the indices of the rows kept."""
    count = len(numeric[0])
    if missing == "drop":
        columns = [*numeric, *labels]
        return [i for i in range(count) if all(column[i] is not None for column in columns)]
    first, last = 0, count - 1
    for column in labels:
        first = max(first, _forward_fill(column))
    for column in numeric:
        first = max(
            first, _interpolate(column) if missing == "interpolate" else _forward_fill(column)
        )
        if missing == "interpolate":
            last = min(last, max((i for i, v in enumerate(column) if v is not None), default=-1))
    return list(range(first, last + 1))


def _forward_fill(values: list) -> int:
    """Fill ``None`` with the last value before it; the index of the first value (or len)."""
    first = next((i for i, v in enumerate(values) if v is not None), len(values))
    for i in range(first + 1, len(values)):
        if values[i] is None:
            values[i] = values[i - 1]
    return first


def _interpolate(values: list[float | None]) -> int:
    """Fill inner ``None`` runs linearly; the index of the first value (or len)."""
    known = [i for i, v in enumerate(values) if v is not None]
    for before, after in pairwise(known):
        for i in range(before + 1, after):
            weight = (i - before) / (after - before)
            values[i] = (1 - weight) * values[before] + weight * values[after]
    return known[0] if known else len(values)
