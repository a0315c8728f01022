"""Where the real data sets live, and how a missing one is fetched.

Files are read from a data directory: ``$SEQMODELS_DATA_DIR``, or ``~/.cache/seqmodels`` when the
variable is unset, with this layout::

    tinyshakespeare/input.txt
    sst2/train.tsv   sst2/dev.tsv
    eng-fra/eng-fra.txt
    tiny-sentiment/train.tsv   tiny-sentiment/test.tsv

A missing file with a known public source is downloaded (with a progress bar) on first use.
:func:`read_table` reads TSV and CSV files row by row, with the line each row starts on, and
:func:`column_index` finds a column by header name or index.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import NamedTuple

from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

ENV_VAR = "SEQMODELS_DATA_DIR"
DEFAULT_DATA_DIR = "~/.cache/seqmodels"


class Source(NamedTuple):
    """Where a data file comes from: a URL, and the file's path inside it if it is a zip."""

    url: str
    member: str | None = None


SST2_ZIP = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
PYTORCH_TUTORIAL_ZIP = "https://download.pytorch.org/tutorial/data.zip"
SOURCES: dict[str, Source] = {
    "tinyshakespeare/input.txt": Source(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
    ),
    "sst2/train.tsv": Source(SST2_ZIP, "SST-2/train.tsv"),
    "sst2/dev.tsv": Source(SST2_ZIP, "SST-2/dev.tsv"),
    "eng-fra/eng-fra.txt": Source(PYTORCH_TUTORIAL_ZIP, "data/eng-fra.txt"),
}

# Files with no downloadable copy: where their content comes from.
ORIGINS: dict[str, str] = {
    "tiny-sentiment/train.tsv": "the train_data dict of data.py in "
    "https://github.com/vzhou842/rnn-from-scratch, written as a 'text<TAB>label' TSV "
    "(header line, label 1 = True, 0 = False)",
    "tiny-sentiment/test.tsv": "the test_data dict of data.py in "
    "https://github.com/vzhou842/rnn-from-scratch, written as a 'text<TAB>label' TSV "
    "(header line, label 1 = True, 0 = False)",
}


TABLE_DELIMITERS = {"tsv": "\t", "csv": ","}
QUOTING_HINT = (
    'a field that starts with " is quoted: it ends at the next lone " and may hold delimiters and '
    'line breaks, a " inside it written twice (""); with quoting=False quotes are plain characters'
)


class Row(NamedTuple):
    """One row of a table: the line of the file it starts on (1-based), and its fields."""

    line: int
    fields: list[str]


def table_format(path: str | os.PathLike, format: str | None = None) -> str:
    """``"tsv"`` or ``"csv"``: ``format`` if given, else the file's extension (case ignored).

    >>> table_format("reviews/train.CSV"), table_format("data.txt", "tsv")
    ('csv', 'tsv')
    """
    name = format if format is not None else Path(path).suffix.lstrip(".").lower()
    if name not in TABLE_DELIMITERS:
        given = f"format={format!r}" if format is not None else f"extension of {path}"
        raise ValueError(f"cannot tell the table format from the {given}: use 'tsv' or 'csv'")
    return name


def read_table(path: str | os.PathLike, format: str, quoting: bool = True) -> list[Row]:
    r"""The rows of a TSV or CSV file (header included), read with the :mod:`csv` module.

    A row ends only at ``\n`` or ``\r\n``: other Unicode separators (U+0085, U+2028, form feed,
    ...) are text. With ``quoting``, a field in double quotes may hold delimiters, line breaks and
    doubled quotes (``""``), as spreadsheets write them; without it, every character is literal.
    The file is UTF-8 (a leading byte-order mark is skipped).

    Args:
        path: the file.
        format: ``"tsv"`` (tab-separated) or ``"csv"`` (comma-separated); see :func:`table_format`.
        quoting: whether double quotes delimit fields.

    Raises:
        ValueError: naming the file and the line, for an empty line, a row whose number of columns
            differs from the first row's, a malformed quoted field, a carriage return inside an
            unquoted field, or bytes that are not UTF-8.

    Example::

        >>> rows = read_table("reviews.csv", "csv")  # doctest: +SKIP
        >>> rows[1]  # doctest: +SKIP
        Row(line=2, fields=['A "gem",\nreally.', 'positive'])
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}, line {line}: not UTF-8 ({error.reason} at byte {error.start}); "
            "re-encode the file as UTF-8"
        ) from error
    reader = csv.reader(
        io.StringIO(text, newline="\n"),  # lines end at \n only, kept as they are
        delimiter=TABLE_DELIMITERS[format],
        quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE,
        strict=True,
    )
    rows: list[Row] = []
    line = 1  # where the row being read starts
    try:
        for fields in reader:
            rows.append(Row(line, fields))
            line = reader.line_num + 1
    except csv.Error as error:
        if "new-line character seen in unquoted field" in str(error):
            problem = (
                "a carriage return (\\r) inside an unquoted field; rows end only at \\n or "
                "\\r\\n: quote the field or remove the \\r"
            )
        else:
            problem = f"{error} ({QUOTING_HINT})"
        raise ValueError(f"{path}, line {line}: {problem}") from error
    _check_widths(rows, path, format)
    return rows


def _check_widths(rows: list[Row], path: str | os.PathLike, format: str) -> None:
    """Every row has as many columns as the first."""
    for row in rows:
        if not row.fields:
            raise ValueError(f"{path}, line {row.line}: empty line; every row needs its columns")
        if len(row.fields) != len(rows[0].fields):
            hint = ""
            if len(row.fields) > len(rows[0].fields):
                delimiter = "tab" if format == "tsv" else "comma"
                hint = f" (a field that holds a {delimiter} must be quoted)"
            raise ValueError(
                f"{path}, line {row.line}: {len(row.fields)} columns where the first row has "
                f"{len(rows[0].fields)}{hint}: {row.fields}"
            )


def column_index(
    column: str | int, first_row: list[str], path: str | os.PathLike, header: bool = True
) -> int:
    """The 0-based index of a column of a table, given by its header name or its index.

    Args:
        column: a name from the header, or an index in ``[0, len(first_row))``.
        first_row: the table's first row: the header if ``header``, else a data row.
        path: the file, for error messages.
        header: whether the first row is a header (names work only then).

    >>> column_index("sentiment", ["review", "sentiment"], "reviews.csv")
    1
    """
    if isinstance(column, str):
        if not header:
            raise ValueError(
                f"{path}: column {column!r} is a name but the file has no header (header=False); "
                "give a 0-based column index"
            )
        if column not in first_row:
            raise ValueError(
                f"{path}, line 1: no column named {column!r}; the header is {first_row}"
            )
        return first_row.index(column)
    if not 0 <= column < len(first_row):
        raise ValueError(
            f"{path}: column index {column} is out of range: the file has {len(first_row)} "
            f"columns {first_row if header else ''}".rstrip()
        )
    return column


def data_dir() -> Path:
    """The data directory: ``$SEQMODELS_DATA_DIR``, or ``~/.cache/seqmodels`` when unset."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DATA_DIR).expanduser()


def data_file(name: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """The path of a data file, downloading it first if it is missing and has a known source.

    Args:
        name: a path relative to the data directory (``"sst2/train.tsv"``), or an absolute path.
            Without ``root``, a file that exists as given (relative to the working directory)
            is used as it is.
        root: the data directory to use instead of :func:`data_dir`.

    Raises:
        FileNotFoundError: the file is missing and could not be downloaded; the message names the
            path, ``SEQMODELS_DATA_DIR`` and where the file can be found.

    Example::

        >>> path = data_file("tinyshakespeare/input.txt")  # doctest: +SKIP
    """
    if root is None and Path(name).expanduser().is_file():
        return Path(name).expanduser()
    root = Path(root).expanduser() if root is not None else data_dir()
    path = root / name
    if path.is_file():
        return path
    key = Path(name).as_posix()
    if key in SOURCES:
        source = SOURCES[key]
        try:
            download(source.url, path, source.member)
            return path
        except (OSError, zipfile.BadZipFile, KeyError) as error:
            hint = f"downloading {source.url} failed ({error}); download it by hand"
            if source.member:
                hint += f" and extract {source.member!r} from the zip"
    elif key in ORIGINS:
        hint = f"it has no download; make it from {ORIGINS[key]}"
    else:
        hint = "it has no known source; check the name"
    raise FileNotFoundError(
        f"data file not found: {path}. Data files are read from ${ENV_VAR} (now {root}); "
        f"{hint}, and put it at {path}, or point ${ENV_VAR} at a folder that holds {key}."
    )


def download(url: str, path: str | os.PathLike, member: str | None = None) -> None:
    """Downloads ``url`` to ``path`` with a progress bar; if ``member`` is given, the URL is a zip
    and ``member`` is the file extracted from it. The file appears only once complete; when the
    download fails, the folders created for it are removed again."""
    path = Path(path)
    created = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _download(url, path, member)
    except BaseException:
        for folder in created:  # deepest first; a folder something else filled meanwhile stays
            try:
                folder.rmdir()
            except OSError:
                break
        raise


def _download(url: str, path: Path, member: str | None) -> None:
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        fetched = Path(tmp) / "download"
        with urllib.request.urlopen(url, timeout=60) as response, fetched.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
            with Progress(*columns, transient=True) as progress:
                bar = progress.add_task(f"downloading {url}", total=total)
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    progress.advance(bar, len(chunk))
        if member is not None:
            with zipfile.ZipFile(fetched) as archive, archive.open(member) as src:
                extracted = Path(tmp) / "member"
                with extracted.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
            fetched = extracted
        fetched.replace(path)
