"""Text classification data: TSV files of text and label, tokenized and padded into batches."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, RandomSampler, Sampler

from seqmodels.data.files import data_file
from seqmodels.data.vocab import PAD, UNK, Vocabulary

TOKEN_PATTERN = re.compile(r"'?\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lowercases ``text`` and splits it into words (with a leading apostrophe, as in ``'s``) and
    single punctuation marks.

    >>> tokenize("It's a GREAT film!")
    ['it', "'s", 'a', 'great', 'film', '!']
    """
    return TOKEN_PATTERN.findall(text.lower())


def read_tsv(path: Path, header: bool = True) -> list[tuple[str, str]]:
    """The ``(text, label)`` rows of a TSV file whose first column is the text and second the label.

    Raises ValueError naming the file and line for an empty line, a row without exactly two columns,
    or a text without any token.
    """
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines[1:] if header else lines, start=2 if header else 1):
        where = f"{path}, line {number}"
        if not line.strip():
            raise ValueError(f"{where}: empty line; every line must be 'text<TAB>label'")
        columns = line.split("\t")
        if len(columns) != 2:
            raise ValueError(
                f"{where}: expected 2 tab-separated columns (text, label), got {line!r}"
            )
        text, label = columns[0], columns[1].strip()
        if not tokenize(text):
            raise ValueError(f"{where}: the text has no token: {line!r}")
        rows.append((text, label))
    if not rows:
        raise ValueError(f"{path} holds no rows")
    return rows


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


class TextClassificationDataModule(L.LightningDataModule):
    r"""Sentences with class labels, from TSV files (``text<TAB>label`` a line).

    Texts are lowercased and tokenized with :func:`tokenize`; the vocabulary (``<pad>`` = 0,
    ``<unk>`` = 1, then words seen at least ``min_freq`` times, at most ``max_size`` of them) and
    the label set come from the training file only. Batches are ``(tokens, lengths, labels)`` of
    shapes ``(N, L)``, ``(N,)``, ``(N,)``, padded with ``<pad>`` to the longest text in the batch.
    With ``bucket_by_length`` (the default), training batches group texts of similar lengths
    (:class:`LengthBucketSampler`), in random order: far fewer recurrent steps per batch.

    Files are looked up by :func:`seqmodels.data.files.data_file`: under ``data_dir`` if given,
    else as given if they exist, else under ``$SEQMODELS_DATA_DIR``. With no ``val_file``, the last
    ``val_fraction`` of the training rows is held out for validation; with no ``test_file``, the
    test set is the validation set.

    Presets (``conf/data``): ``tiny_sentiment`` (58 train / 20 test sentences; the test file is
    used for validation and test) and ``sst2`` (GLUE SST-2; its labelled dev set is used for
    validation and test, as GLUE hides the test labels).

    After :meth:`setup`, :attr:`model_kwargs` holds ``vocab_size``, ``num_classes`` and
    ``padding_idx``, and :attr:`task_kwargs` the ``vocab`` (id -> token) and ``labels``
    (class -> label as written in the file), which the task keeps in its checkpoint.

    Example::

        >>> dm = TextClassificationDataModule(train_file="sst2/train.tsv", val_file="sst2/dev.tsv")
        >>> dm.setup("fit")  # doctest: +SKIP
        >>> tokens, lengths, labels = next(iter(dm.train_dataloader()))  # doctest: +SKIP
    """

    def __init__(
        self,
        train_file: str = "tiny-sentiment/train.tsv",
        val_file: str | None = "tiny-sentiment/test.tsv",
        test_file: str | None = None,
        data_dir: str | None = None,
        header: bool = True,
        val_fraction: float = 0.1,
        min_freq: int = 1,
        max_size: int | None = None,
        batch_size: int = 32,
        bucket_by_length: bool = True,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if val_file is None and not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.train_file, self.val_file, self.test_file = train_file, val_file, test_file
        self.data_dir, self.header, self.val_fraction = data_dir, header, val_fraction
        self.min_freq, self.max_size = min_freq, max_size
        self.batch_size, self.num_workers = batch_size, num_workers
        self.bucket_by_length = bucket_by_length
        self.vocab: Vocabulary | None = None
        self.labels: list[str] = []

    def prepare_data(self) -> None:
        for name in (self.train_file, self.val_file, self.test_file):
            if name is not None:
                data_file(name, self.data_dir)

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        train = read_tsv(data_file(self.train_file, self.data_dir), self.header)
        if self.val_file is None:
            n_val = max(1, round(len(train) * self.val_fraction))
            train, val = train[:-n_val], train[-n_val:]
        else:
            val = read_tsv(data_file(self.val_file, self.data_dir), self.header)
        self.vocab = Vocabulary.build(
            (tokenize(text) for text, _ in train), [PAD, UNK], self.min_freq, self.max_size
        )
        self.labels = sorted({label for _, label in train})
        self.train_set = self._encode(train, self.train_file)
        self.val_set = self._encode(val, self.val_file or self.train_file)
        self.test_set = self.val_set
        if self.test_file is not None:
            test = read_tsv(data_file(self.test_file, self.data_dir), self.header)
            self.test_set = self._encode(test, self.test_file)

    def _encode(self, rows: list[tuple[str, str]], name: str) -> list[tuple[torch.Tensor, int]]:
        classes = {label: index for index, label in enumerate(self.labels)}
        unknown = sorted({label for _, label in rows} - classes.keys())
        if unknown:
            raise ValueError(
                f"{name}: labels {unknown} do not occur in the training file "
                f"{self.train_file} (its labels: {self.labels})"
            )
        return [(torch.tensor(self.vocab.encode(tokenize(t))), classes[y]) for t, y in rows]

    @property
    def model_kwargs(self) -> dict:
        return {
            "vocab_size": len(self.vocab),
            "num_classes": len(self.labels),
            "padding_idx": self.vocab.pad_index,
        }

    @property
    def task_kwargs(self) -> dict:
        return {"vocab": list(self.vocab.itos), "labels": list(self.labels)}

    def _loader(self, dataset: list, sampler: Sampler | None = None) -> DataLoader:
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
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)


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
