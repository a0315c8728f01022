"""Character-level text data, laid out for truncated backpropagation through time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from seqmodels.data.base import DataSpec, SequenceDataModule
from seqmodels.data.files import data_file
from seqmodels.preprocessing import Vocabulary


@dataclass(frozen=True)
class CharTextSpec(DataSpec):
    """A character stream (:class:`~seqmodels.tasks.language_model.data.CharTextDataModule`).

    Attributes:
        vocab_size: ``len(vocab)``.
        vocab: the vocabulary, id -> character.
    """

    model_fields = ("vocab_size",)

    vocab_size: int
    vocab: list[str]


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cuts a stream of ids into ``batch_size`` contiguous streams, one a row; the remainder that
    does not fill a row is dropped. ``(n,)`` -> ``(batch_size, n // batch_size)``.

    >>> batchify(torch.arange(7), 2)
    tensor([[0, 1, 2],
            [3, 4, 5]])
    """
    length = ids.numel() // batch_size
    if length < 2:
        raise ValueError(
            f"a stream of {ids.numel()} ids is too short for batch_size {batch_size}: each row "
            "needs at least 2 ids (an input and its target)"
        )
    return ids[: batch_size * length].view(batch_size, length)


class BPTTWindows(Dataset):
    r"""Consecutive windows over batchified streams, for truncated BPTT.

    Item ``k`` is ``(inputs, targets)``, both ``(B, T)``: columns ``[kT, kT + T)`` of the streams
    and the same columns shifted by one (the last window may be shorter). Row ``b`` of item
    ``k + 1`` continues row ``b`` of item ``k``, so a model may carry its state from one item to the
    next. Load it in order and unbatched: ``DataLoader(windows, batch_size=None)``.

    For ``R = num_replicas`` processes (DDP), the ``R * B`` streams are ``R`` groups of ``B``
    consecutive rows, one group a process, and item ``i`` is window ``i // R`` of group ``i % R``.
    ``DistributedSampler(windows, R, rank, shuffle=False)`` hands process ``rank`` the items
    ``rank, rank + R, ...``: the windows of its own streams, in order, and as many as every other
    process gets.

    Args:
        streams: ``(R * B, n)`` token ids, one contiguous stream a row (see :func:`batchify`).
        seq_len: ``T``, the window length.
        num_replicas: ``R``, the number of processes that share the streams.
    """

    def __init__(self, streams: torch.Tensor, seq_len: int, num_replicas: int = 1) -> None:
        if streams.shape[0] % num_replicas:
            raise ValueError(
                f"streams has {streams.shape[0]} rows, not a multiple of num_replicas "
                f"{num_replicas}"
            )
        self.streams, self.seq_len, self.num_replicas = streams, seq_len, num_replicas

    def __len__(self) -> int:
        return self.num_replicas * math.ceil((self.streams.shape[1] - 1) / self.seq_len)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        window, group = divmod(index, self.num_replicas)
        rows = self.streams.shape[0] // self.num_replicas
        streams = self.streams[group * rows : (group + 1) * rows]
        start = window * self.seq_len
        stop = min(start + self.seq_len, streams.shape[1] - 1)
        return streams[:, start:stop], streams[:, start + 1 : stop + 1]


class CharTextDataModule(SequenceDataModule):
    r"""Any text file as a character stream, for character language models.

    The vocabulary holds every character of the file (most frequent first). The first
    ``1 - val_fraction`` of the text is for training, the rest for validation (and test). Each
    split is cut into ``batch_size`` contiguous streams, and batches are consecutive windows of
    ``seq_len`` characters over them (:class:`BPTTWindows`): ``(inputs, targets)`` of shape
    ``(batch_size, seq_len)``, targets shifted by one character. A task can carry the recurrent
    state from one batch to the next (truncated BPTT), as in pytorch/examples'
    word_language_model.

    The file is looked up by :func:`seqmodels.data.files.data_file`: under ``data_dir`` if given,
    else as given if it exists, else under ``$SEQMODELS_DATA_DIR``. Preset (``conf/data``):
    ``tinyshakespeare`` (1.1 M characters, 65 distinct).

    :meth:`describe` gives a :class:`~seqmodels.tasks.language_model.data.CharTextSpec`: the model's
    ``vocab_size`` and the task's ``vocab`` (id -> character), which the task keeps in its
    checkpoint.

    Under DDP (a Trainer with ``world_size`` :math:`R > 1` attached when :meth:`setup` runs), each
    split is cut into ``R * batch_size`` streams and process ``r`` reads streams
    ``[r * batch_size, (r + 1) * batch_size)``, window after window, through a
    ``DistributedSampler`` over :class:`BPTTWindows` (Lightning keeps a distributed sampler it
    finds rather than injecting its own, which would shuffle and interleave the windows). Every
    process gets the same number of batches, and each of them carries its own streams' state.
    Validation and test are split the same way: every character is evaluated once, by one
    process, and the task's metrics (torchmetrics, synced across processes) are the exact means
    over all characters, as a single process with ``R * batch_size`` streams computes them.
    Evaluating the whole split on every process would give the same numbers only at ``R`` times
    the cost.

    Example::

        >>> dm = CharTextDataModule("tinyshakespeare/input.txt", seq_len=100, batch_size=32)
        >>> dm.describe().vocab_size  # doctest: +SKIP
        65
        >>> dm.setup("fit")  # doctest: +SKIP
        >>> inputs, targets = next(iter(dm.train_dataloader()))  # (32, 100) each  # doctest: +SKIP
    """

    def __init__(
        self,
        file: str = "tinyshakespeare/input.txt",
        data_dir: str | None = None,
        seq_len: int = 128,
        batch_size: int = 64,
        val_fraction: float = 0.1,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {seq_len}")
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        self.file, self.data_dir, self.seq_len = file, data_dir, seq_len
        self.batch_size, self.val_fraction, self.num_workers = batch_size, val_fraction, num_workers
        self.vocab: Vocabulary | None = None

    def prepare_data(self) -> None:
        data_file(self.file, self.data_dir)

    def load(self) -> None:
        path = data_file(self.file, self.data_dir)
        text = path.read_text(encoding="utf-8")
        if not text:
            raise ValueError(f"{path} is empty")
        self.vocab = Vocabulary.build([text])
        ids = torch.tensor(self.vocab.encode(text))
        n_train = round(len(ids) * (1 - self.val_fraction))
        self.train_ids, self.val_ids = ids[:n_train], ids[n_train:]

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        # the Trainer calls setup in each process, with its world size known
        replicas = self.trainer.world_size if self.trainer is not None else 1
        self.train_set = self._windows(self.train_ids, replicas)
        self.val_set = self._windows(self.val_ids, replicas)

    def _windows(self, ids: torch.Tensor, replicas: int) -> BPTTWindows:
        return BPTTWindows(batchify(ids, replicas * self.batch_size), self.seq_len, replicas)

    def spec(self) -> CharTextSpec:
        return CharTextSpec(vocab_size=len(self.vocab), vocab=list(self.vocab.itos))

    def _loader(self, windows: BPTTWindows) -> DataLoader:
        sampler = None
        if windows.num_replicas > 1:
            sampler = DistributedSampler(
                windows, windows.num_replicas, self.trainer.global_rank, shuffle=False
            )
        return DataLoader(windows, batch_size=None, sampler=sampler, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)
