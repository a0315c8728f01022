"""Text classification data: TSV or CSV files of texts and labels, tokenized and padded into
batches."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, RandomSampler, Sampler

from seqmodels.data.base import DataSpec, SequenceDataModule
from seqmodels.data.files import Row, column_index, data_file, read_table, table_format
from seqmodels.preprocessing import PAD, UNK, Vocabulary, tokenize, truncate


@dataclass(frozen=True)
class TextClassificationSpec(DataSpec):
    """Labelled texts (:class:`~TextClassificationDataModule`).

    Attributes:
        vocab_size, padding_idx: the vocabulary's size and the id of ``<pad>``.
        num_classes: ``len(labels)``.
        vocab: the vocabulary, id -> token.
        labels: class id -> label as written in the training file.
        remove_html_breaks, max_length, keep: how texts are read (see
            :func:`seqmodels.preprocessing.tokenize` and :func:`~seqmodels.preprocessing.truncate`).
    """

    model_fields = ("vocab_size", "num_classes", "padding_idx")

    vocab_size: int
    num_classes: int
    padding_idx: int
    vocab: list[str]
    labels: list[str]
    remove_html_breaks: bool
    max_length: int | None
    keep: str


log = logging.getLogger(__name__)


class LabeledText(NamedTuple):
    """One row of a text classification file: the line it starts on, its text and its label."""

    line: int
    text: str
    label: str


class LabeledTexts(list):
    """The rows of :func:`read_labeled_texts` (a list of :class:`LabeledText`), with the columns
    they came from: header names, or indices in a file without a header."""

    def __init__(self, rows: list[LabeledText], text_column: str | int, label_column: str | int):
        super().__init__(rows)
        self.text_column, self.label_column = text_column, label_column


# Header names that hold the texts and the labels, tried in this order (case ignored) when the
# columns are not given: the names of the common data sets (SST-2 "sentence", IMDB "review" and
# "sentiment", AG News "text" and "label", ...).
TEXT_COLUMNS = ("text", "sentence", "review", "content", "comment", "document")
LABEL_COLUMNS = ("label", "sentiment", "class", "category", "polarity", "target")


def read_labeled_texts(
    path: str | os.PathLike,
    text_column: str | int | None = None,
    label_column: str | int | None = None,
    header: bool = True,
    format: str | None = None,
    quoting: bool = True,
    check_labels: bool = False,
) -> LabeledTexts:
    """The texts and labels of a TSV or CSV file (see :func:`seqmodels.data.files.read_table`);
    other columns are ignored, labels are stripped of surrounding spaces.

    Args:
        path: the file.
        text_column, label_column: header names, or 0-based indices; None (the default): the
            first header name found in :data:`TEXT_COLUMNS` (``text``, ``sentence``,
            ``review``, ...) and :data:`LABEL_COLUMNS` (``label``, ``sentiment``, ``class``,
            ...), case ignored. A file without a header needs indices.
        header: whether the first row holds the column names (it is not data then).
        format: ``"tsv"`` or ``"csv"``; None: from the file's extension.
        quoting: whether double quotes delimit fields.
        check_labels: refuse a label column that does not look like class labels: at least 10
            rows of which more than half have a label of their own (ids, or texts: the wrong
            column). For training files.

    Returns:
        the rows, a list of :class:`LabeledText` whose ``text_column`` and ``label_column``
        attributes name the columns read.

    Raises:
        ValueError: naming the file, line and column: a malformed file, an unknown column, an
            empty label, no data rows, or labels that are not class labels; errors about the
            choice of columns name the columns seen and the override to use
            (``data.text_column`` / ``data.label_column``).
    """
    rows = read_table(path, table_format(path, format), quoting)
    if not rows:
        raise ValueError(f"{path} holds no rows")
    text_index, label_index = (
        _column(given, names, kind, rows[0].fields, path, header)
        for given, names, kind in (
            (text_column, TEXT_COLUMNS, "text"),
            (label_column, LABEL_COLUMNS, "label"),
        )
    )
    text_name = rows[0].fields[text_index] if header else text_index
    if text_index == label_index:
        raise ValueError(
            f"{path}: the texts and the labels would come from the same column, {text_name!r} "
            f"(text_column={text_column!r}, label_column={label_column!r}); choose two columns: "
            "data.text_column=<name or index> data.label_column=<name or index>"
        )
    label_name = rows[0].fields[label_index] if header else label_index
    texts = _labeled(rows[1:] if header else rows, text_index, label_index, label_name, path)
    if check_labels:
        _check_labels(texts, path, rows[0].fields if header else None, label_name)
    return LabeledTexts(texts, text_name, label_name)


def _labeled(
    rows: list[Row], text_index: int, label_index: int, label_name: str | int, path: object
) -> list[LabeledText]:
    """The data rows as labelled texts, labels stripped of surrounding spaces."""
    texts = []
    for line, fields in rows:
        label = fields[label_index].strip()
        if not label:
            raise ValueError(f"{path}, line {line}, column {label_name!r}: empty label")
        texts.append(LabeledText(line, fields[text_index], label))
    if not texts:
        raise ValueError(f"{path} holds no rows")
    return texts


def _column(
    given: str | int | None,
    names: tuple[str, ...],
    kind: str,
    first_row: list[str],
    path: str | os.PathLike,
    header: bool,
) -> int:
    """The index of the text or label column: as given, or found among ``names``."""
    if given is not None:
        return column_index(given, first_row, path, header)
    override = f"data.{kind}_column"
    if not header:
        raise ValueError(
            f"{path} has no header (header=false), so its {kind} column cannot be found by name; "
            f"give its 0-based index: {override}=<index> (the first row is {first_row})"
        )
    lowered = [name.strip().lower() for name in first_row]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    raise ValueError(
        f"{path}: no {kind} column found by name; the header is {first_row}, and the names "
        f"looked for are {list(names)}. Choose the column: {override}=<name or index>"
    )


def _check_labels(
    texts: list[LabeledText],
    path: str | os.PathLike,
    header: list[str] | None,
    label_name: str | int,
) -> None:
    """Refuse a label column with a label of its own for more than half of at least 10 rows."""
    labels = [text.label for text in texts]
    distinct = len(set(labels))
    if len(labels) < 10 or distinct <= len(labels) / 2:
        return
    examples = ", ".join(repr(label[:40]) for label in labels[:3])
    columns = f"the header is {header}" if header else "the file has no header"
    raise ValueError(
        f"{path}: column {label_name!r} does not hold class labels: {distinct} distinct values "
        f"in {len(labels)} rows ({examples}, ...), as ids or texts would. {columns[0].upper()}"
        f"{columns[1:]}; choose the columns: data.label_column=<name or index> "
        "data.text_column=<name or index>"
    )


def sorted_labels(labels: set[str]) -> list[str]:
    """The labels in class order: by value if they are all integers, else alphabetically.

    >>> sorted_labels({"10", "2", "1"}), sorted_labels({"positive", "negative"})
    (['1', '2', '10'], ['negative', 'positive'])
    """
    if all(re.fullmatch(r"[-+]?\d+", label) for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def pad_batch(
    batch: list[tuple[torch.Tensor, int]], pad_index: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pads token id sequences to the longest one.

    Returns ``(tokens, lengths, labels)`` of shapes ``(N, L)``, ``(N,)`` and ``(N,)``.
    """
    sequences, labels = zip(*batch, strict=True)
    lengths = torch.tensor([len(s) for s in sequences])
    tokens = torch.nn.utils.rnn.pad_sequence(
        list(sequences), batch_first=True, padding_value=pad_index
    )
    return tokens, lengths, torch.tensor(labels)


class TextClassificationDataModule(SequenceDataModule):
    r"""Texts with class labels, from TSV or CSV files (:func:`read_labeled_texts`).

    **Files.** Each file is a table with a header row (or none, ``header=False``): TSV or CSV by
    its extension, or ``format``. Rows end only at ``\n`` / ``\r\n``; fields in double quotes
    may hold delimiters, quotes (``""``) and line breaks (``quoting=False`` reads quotes as plain
    characters). ``text_column`` and ``label_column`` name the two columns used (header names or
    0-based indices); by default they are found by header name (:data:`TEXT_COLUMNS`: ``text``,
    ``sentence``, ``review``, ``content``, ``comment``, ``document``; :data:`LABEL_COLUMNS`:
    ``label``, ``sentiment``, ``class``, ``category``, ``polarity``, ``target``; case ignored),
    and a file without a header needs indices. Other columns are ignored. A training label
    column with a label of its own for more than half of its rows (ids or texts: the wrong
    column) is an error naming the columns. Labels are kept as written (``positive`` /
    ``negative``, ``1`` / ``0``, ...), or renamed by ``label_names`` (``{"0": "negative", "1":
    "positive"}``): the classes are the training labels, sorted (by value when they are all
    integers), and their names go to the task's checkpoint with the vocabulary (and label its
    confusion matrices and predictions).

    **Texts.** Lowercased and tokenized with :func:`tokenize` (``remove_html_breaks`` turns
    ``<br />`` into a space), then cut to ``max_length`` tokens keeping the ``keep`` part
    (``"head"``, ``"tail"`` or ``"both"``; see :func:`truncate`); how many texts were cut is
    logged. The vocabulary (``<pad>`` = 0, ``<unk>`` = 1, then the words seen at least
    ``min_freq`` times, most frequent first, at most ``max_size`` of them) comes from the
    training texts only; the default cap of 25,000 words keeps the embedding of a large corpus
    small and leaves smaller ones (SST-2: 13,837 words) whole.

    **Bad rows.** A malformed file, an unknown column, an empty label, a text without any token
    or, in a validation or test file, a label the training file lacks, is an error naming the
    file, line and column. With ``skip_bad_rows``, texts without tokens and unknown labels are
    dropped instead and the number dropped per file is logged; a file that would lose every
    row is still an error.

    **Batches** are ``(tokens, lengths, labels)`` of shapes ``(N, L)``, ``(N,)``, ``(N,)``,
    padded with ``<pad>`` to the longest text in the batch. With ``bucket_by_length`` (the
    default), training batches group texts of similar lengths (:class:`LengthBucketSampler`),
    in random order; validation and test batches go in order of length. Both make far fewer
    padded recurrent steps on texts of varied lengths.

    Files are looked up by :func:`seqmodels.data.files.data_file`: under ``data_dir`` if given,
    else as given if they exist, else under ``$SEQMODELS_DATA_DIR``. With no ``val_file``, the last
    ``val_fraction`` of the training rows is held out for validation; with no ``test_file``, the
    test set is the validation set.

    Presets (``conf/data``): ``tiny_sentiment`` (58 train / 20 test sentences; the test file is
    used for validation and test) and ``sst2`` (GLUE SST-2; its labelled dev set is used for
    validation and test, as GLUE hides the test labels).

    :meth:`describe` gives a :class:`TextClassificationSpec`: the model's
    ``vocab_size``, ``num_classes`` and ``padding_idx``, and the task's ``vocab`` (id -> token),
    ``labels`` (class -> label as written in the file) and text settings
    (``remove_html_breaks``, ``max_length``, ``keep``), which the task keeps in its checkpoint to
    read new texts the same way.

    Example::

        >>> dm = TextClassificationDataModule(
        ...     "reviews/train.csv", val_file=None, test_file="reviews/test.csv",
        ...     text_column="review", label_column="sentiment", max_length=400,
        ...     remove_html_breaks=True)
        >>> dm.describe().labels  # doctest: +SKIP
        ['negative', 'positive']
        >>> tokens, lengths, labels = next(iter(dm.train_dataloader()))  # doctest: +SKIP
    """

    def __init__(
        self,
        train_file: str = "tiny-sentiment/train.tsv",
        val_file: str | None = "tiny-sentiment/test.tsv",
        test_file: str | None = None,
        data_dir: str | None = None,
        format: str | None = None,
        header: bool = True,
        quoting: bool = True,
        text_column: str | int | None = None,
        label_column: str | int | None = None,
        label_names: Mapping[str, str] | None = None,
        skip_bad_rows: bool = False,
        val_fraction: float = 0.1,
        remove_html_breaks: bool = False,
        max_length: int | None = None,
        keep: str = "head",
        min_freq: int = 1,
        max_size: int | None = 25_000,
        batch_size: int = 32,
        bucket_by_length: bool = True,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if val_file is None and not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        truncate([], max_length, keep)  # raises on a bad max_length or keep
        self.train_file, self.val_file, self.test_file = train_file, val_file, test_file
        self.data_dir, self.val_fraction = data_dir, val_fraction
        self.read_options = {
            "format": format,
            "header": header,
            "quoting": quoting,
            "text_column": text_column,
            "label_column": label_column,
        }
        self.label_names = (
            {str(label): str(name) for label, name in label_names.items()} if label_names else {}
        )
        self.skip_bad_rows = skip_bad_rows
        self.remove_html_breaks, self.max_length, self.keep = remove_html_breaks, max_length, keep
        self.min_freq, self.max_size = min_freq, max_size
        self.batch_size, self.num_workers = batch_size, num_workers
        self.bucket_by_length = bucket_by_length
        self.vocab: Vocabulary | None = None
        self.labels: list[str] = []
        self._columns: dict[str, tuple[str | int, str | int]] = {}  # file -> text, label column

    def prepare_data(self) -> None:
        for name in (self.train_file, self.val_file, self.test_file):
            if name is not None:
                data_file(name, self.data_dir)

    def load(self) -> None:
        train = self._tokenized(self.train_file)
        if self.val_file is None:
            n_val = max(1, round(len(train) * self.val_fraction))
            train, val = train[:-n_val], train[-n_val:]
        else:
            val = self._tokenized(self.val_file)
        self.vocab = Vocabulary.build(
            (tokens for _, tokens, _ in train), [PAD, UNK], self.min_freq, self.max_size
        )
        self.labels = sorted_labels({label for _, _, label in train})
        self.train_set = self._encode(train, self.train_file)
        self.val_set = self._encode(val, self.val_file or self.train_file)
        self.test_set = self.val_set
        if self.test_file is not None:
            self.test_set = self._encode(self._tokenized(self.test_file), self.test_file)

    def _tokenized(self, name: str) -> list[tuple[int, list[str], str]]:
        """``(line, tokens, label)`` of each row of a file, the tokens cut to ``max_length``."""
        path = data_file(name, self.data_dir)
        rows, empty, cut = [], [], 0
        training = name == self.train_file
        texts = read_labeled_texts(path, **self.read_options, check_labels=training)
        self._columns[name] = (texts.text_column, texts.label_column)
        for line, text, label in texts:
            label = self._label_name(label, path, line)
            tokens = tokenize(text, self.remove_html_breaks)
            if not tokens:
                empty.append((line, text))
                continue
            if self.max_length is not None and len(tokens) > self.max_length:
                cut += 1
            rows.append((line, truncate(tokens, self.max_length, self.keep), label))
        if empty:
            column = texts.text_column
            line, text = empty[0]
            if not self.skip_bad_rows:
                raise ValueError(
                    f"{path}, line {line}, column {column!r}: the text has no token: {text!r} "
                    f"({len(empty)} such rows; data.skip_bad_rows=true drops them)"
                )
            log.warning(
                f"{path}: dropped {len(empty)} of {len(empty) + len(rows)} rows whose text has "
                "no token"
            )
        if not rows:
            raise ValueError(
                f"{path}: none of its {len(empty)} rows has a text with a token, so its split "
                "would be empty; check that data.text_column is the column of the texts"
            )
        if cut:
            log.info(
                f"{path}: {cut} of {len(rows)} texts cut to max_length={self.max_length} tokens "
                f"(keep={self.keep!r})"
            )
        return rows

    def _encode(
        self, rows: list[tuple[int, list[str], str]], name: str
    ) -> list[tuple[torch.Tensor, int]]:
        classes = {label: index for index, label in enumerate(self.labels)}
        unknown = [(line, label) for line, _, label in rows if label not in classes]
        if unknown:
            line, label = unknown[0]
            column = self._columns[name][1]
            if not self.skip_bad_rows:
                raise ValueError(
                    f"{data_file(name, self.data_dir)}, line {line}, column {column!r}: label "
                    f"{label!r} does not occur in the training file {self.train_file} (its "
                    f"labels: {self.labels}; {len(unknown)} such rows; data.skip_bad_rows=true "
                    "drops them)"
                )
            if len(unknown) == len(rows):
                raise ValueError(
                    f"{data_file(name, self.data_dir)}: none of the labels of its {len(rows)} "
                    f"rows (e.g. {label!r}) occurs in the training file {self.train_file} (its "
                    f"labels: {self.labels}), so data.skip_bad_rows=true would leave its split "
                    "empty; check data.label_column and data.text_column"
                )
            log.warning(
                f"{name}: dropped {len(unknown)} of {len(rows)} rows whose label is not a "
                "training label"
            )
        return [
            (torch.tensor(self.vocab.encode(tokens)), classes[label])
            for _, tokens, label in rows
            if label in classes
        ]

    def _label_name(self, label: str, path: os.PathLike, line: int) -> str:
        """The class name of a label as written (itself without ``label_names``)."""
        if not self.label_names:
            return label
        if label not in self.label_names:
            raise ValueError(
                f"{path}, line {line}: label {label!r} has no name in data.label_names "
                f"{self.label_names}"
            )
        return self.label_names[label]

    def spec(self) -> TextClassificationSpec:
        return TextClassificationSpec(
            vocab_size=len(self.vocab),
            num_classes=len(self.labels),
            padding_idx=self.vocab.pad_index,
            vocab=list(self.vocab.itos),
            labels=list(self.labels),
            remove_html_breaks=self.remove_html_breaks,
            max_length=self.max_length,
            keep=self.keep,
        )

    def _loader(self, dataset: list, sampler: Sampler | list[int] | None = None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            collate_fn=partial(pad_batch, pad_index=self.vocab.pad_index),
        )

    def train_dataloader(self) -> DataLoader:
        if self.bucket_by_length:
            lengths = [len(tokens) for tokens, _ in self.train_set]
            return self._loader(self.train_set, LengthBucketSampler(lengths, self.batch_size))
        return self._loader(self.train_set, RandomSampler(self.train_set))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self._by_length(self.val_set))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, self._by_length(self.test_set))

    def _by_length(self, dataset: list[tuple[torch.Tensor, int]]) -> list[int] | None:
        """Indices in order of text length (stable), or None (file order) without bucketing."""
        if not self.bucket_by_length:
            return None
        return sorted(range(len(dataset)), key=lambda index: len(dataset[index][0]))


class LengthBucketSampler(Sampler[int]):
    r"""Random order in which consecutive runs of ``batch_size`` indices have similar lengths.

    Each epoch the indices are shuffled and cut into pools of ``pool_batches * batch_size``; each
    pool is sorted by length and cut into batches, and the batches are shuffled (the one partial
    batch comes last, so a ``DataLoader`` with the same ``batch_size`` cuts exactly these
    batches). Batches then hold texts of similar lengths, so a recurrent layer runs far fewer
    padded steps, while the order stays random. Uses torch's global random generator.

    Args:
        lengths: the length of each item.
        batch_size: the DataLoader's batch size.
        pool_batches: how many batches are sorted together.

    Example::

        >>> sampler = LengthBucketSampler([5, 1, 4, 2, 3, 6], batch_size=2)
        >>> batches = torch.tensor(list(sampler)).view(3, 2)
        >>> sorted(sorted(b) for b in batches.tolist())  # lengths (1, 2), (3, 4), (5, 6)
        [[0, 5], [1, 3], [2, 4]]
    """

    def __init__(self, lengths: list[int], batch_size: int, pool_batches: int = 100) -> None:
        self.lengths, self.batch_size, self.pool_batches = lengths, batch_size, pool_batches

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(len(self.lengths)).tolist()
        pool = self.pool_batches * self.batch_size
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=self.lengths.__getitem__)
            batches += [
                chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)
            ]
        partial_batch = [batches.pop()] if len(batches[-1]) < self.batch_size else []
        for index in torch.randperm(len(batches)).tolist():
            yield from batches[index]
        for batch in partial_batch:
            yield from batch
