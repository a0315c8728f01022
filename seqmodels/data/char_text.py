"""Character-level text data, laid out for truncated backpropagation through time."""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from seqmodels.data.files import data_file
from seqmodels.data.vocab import Vocabulary


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

    Args:
        streams: ``(B, n)`` token ids, one contiguous stream a row (see :func:`batchify`).
        seq_len: ``T``, the window length.
    """

    def __init__(self, streams: torch.Tensor, seq_len: int) -> None:
        self.streams, self.seq_len = streams, seq_len

    def __len__(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.seq_len)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range for {len(self)} windows")
        start = index * self.seq_len
        stop = min(start + self.seq_len, self.streams.shape[1] - 1)
        return self.streams[:, start:stop], self.streams[:, start + 1 : stop + 1]


class CharTextDataModule(L.LightningDataModule):
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

    After :meth:`setup`, :attr:`model_kwargs` is ``{"vocab_size": V}`` and :attr:`task_kwargs`
    ``{"vocab": [...]}`` (id -> character), which the task keeps in its checkpoint.

    Example::

        >>> dm = CharTextDataModule("tinyshakespeare/input.txt", seq_len=100, batch_size=32)
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

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        path = data_file(self.file, self.data_dir)
        text = path.read_text(encoding="utf-8")
        if not text:
            raise ValueError(f"{path} is empty")
        self.vocab = Vocabulary.build([text])
        ids = torch.tensor(self.vocab.encode(text))
        n_train = round(len(ids) * (1 - self.val_fraction))
        self.train_set = BPTTWindows(batchify(ids[:n_train], self.batch_size), self.seq_len)
        self.val_set = BPTTWindows(batchify(ids[n_train:], self.batch_size), self.seq_len)

    @property
    def model_kwargs(self) -> dict:
        return {"vocab_size": len(self.vocab)}

    @property
    def task_kwargs(self) -> dict:
        return {"vocab": list(self.vocab.itos)}

    def _loader(self, windows: BPTTWindows) -> DataLoader:
        return DataLoader(windows, batch_size=None, shuffle=False, num_workers=self.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)
