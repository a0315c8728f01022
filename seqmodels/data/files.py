"""Where the real data sets live, and how a missing one is fetched.

Files are read from a data directory: ``$SEQMODELS_DATA_DIR``, or ``~/.cache/seqmodels`` when the
variable is unset, with this layout::

    tinyshakespeare/input.txt
    sst2/train.tsv   sst2/dev.tsv
    eng-fra/eng-fra.txt
    tiny-sentiment/train.tsv   tiny-sentiment/test.tsv

A missing file with a known public source is downloaded (with a progress bar) on first use.
"""

from __future__ import annotations

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
        f"{hint}, and put it at {path}."
    )


def download(url: str, path: str | os.PathLike, member: str | None = None) -> None:
    """Downloads ``url`` to ``path`` with a progress bar; if ``member`` is given, the URL is a zip
    and ``member`` is the file extracted from it. The file appears only once complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
