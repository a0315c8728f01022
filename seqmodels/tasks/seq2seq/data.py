"""Sequence pairs for seq2seq: synthetic tasks (reverse, sort, copy, add) and translation.

Both DataModules yield batches ``(src, src_lengths, tgt)`` of shapes ``(N, S)``, ``(N,)``,
``(N, T)``: the source ids padded with ``<pad>``, and the target ids followed by ``<eos>`` and
padding (no ``<sos>``; :class:`seqmodels.models.Seq2Seq` adds it).
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from seqmodels.data.base import DataSpec, SequenceDataModule
from seqmodels.data.files import data_file
from seqmodels.preprocessing import EOS, PAD, SOS, UNK, Vocabulary, normalize


@dataclass(frozen=True)
class PairsSpec(DataSpec):
    """Sequence pairs for seq2seq (:class:`~seqmodels.tasks.seq2seq.data.PairsDataModule`).

    Attributes:
        src_vocab_size, tgt_vocab_size: the vocabularies' sizes.
        pad_id, sos_id, eos_id: ids of ``<pad>``, ``<sos>`` and ``<eos>`` (the same in both).
        src_vocab, tgt_vocab: the vocabularies, id -> token.
        level: ``"char"`` or ``"word"``: how text is split into tokens.
    """

    model_fields = ("src_vocab_size", "tgt_vocab_size", "pad_id", "sos_id", "eos_id")

    src_vocab_size: int
    tgt_vocab_size: int
    pad_id: int
    sos_id: int
    eos_id: int
    src_vocab: list[str]
    tgt_vocab: list[str]
    level: str


SPECIALS = (PAD, SOS, EOS, UNK)  # ids 0, 1, 2, 3 in every pairs vocabulary

Pair = tuple[list[str], list[str]]

SYNTHETIC_TASKS = ("reverse", "sort", "copy", "add")

# The English prefixes of the PyTorch seq2seq tutorial (after normalisation, "i'm" is "i m").
TUTORIAL_PREFIXES = (
    "i am ", "i m ", "he is ", "he s ", "she is ", "she s ", "you are ", "you re ",
    "we are ", "we re ", "they are ", "they re ",
)  # fmt: skip


def synthetic_pairs(
    task: str, num_pairs: int, min_len: int, max_len: int, vocab_size: int = 26, seed: int = 0
) -> list[Pair]:
    """Distinct random pairs of a synthetic task, as character token lists.

    * ``reverse``, ``sort``, ``copy``: a source of ``min_len`` to ``max_len`` letters drawn from
      the first ``vocab_size`` lowercase letters, and its reversal, sorted letters, or copy.
    * ``add``: two numbers of ``min_len`` to ``max_len`` digits each, ``"123+45"`` -> ``"168"``
      (``vocab_size`` is not used).

    >>> synthetic_pairs("add", 2, 1, 2, seed=0)
    [(['6', '3', '+', '4'], ['6', '7']), (['6', '1', '+', '7', '1'], ['1', '3', '2'])]
    >>> synthetic_pairs("reverse", 1, 3, 5, vocab_size=4, seed=0)
    [(['d', 'b', 'b', 'c'], ['c', 'b', 'b', 'd'])]
    """
    if task not in SYNTHETIC_TASKS:
        raise ValueError(f"task must be one of {SYNTHETIC_TASKS}, got {task!r}")
    if not 1 <= min_len <= max_len:
        raise ValueError(f"lengths must satisfy 1 <= min_len <= max_len, got {min_len}, {max_len}")
    if not 1 <= vocab_size <= 26:
        raise ValueError(f"vocab_size must lie in [1, 26] (lowercase letters), got {vocab_size}")
    rng = random.Random(seed)
    letters = string.ascii_lowercase[:vocab_size]
    seen, pairs = set(), []
    transform = {"reverse": lambda s: s[::-1], "sort": lambda s: "".join(sorted(s)), "copy": str}

    def number() -> int:  # min_len to max_len digits, no leading zero
        digits = rng.randint(min_len, max_len)
        return rng.randrange(10 ** (digits - 1) if digits > 1 else 0, 10**digits)

    for _ in range(20 * num_pairs):
        if task == "add":
            a, b = number(), number()
            source, target = f"{a}+{b}", str(a + b)
        else:
            source = "".join(rng.choices(letters, k=rng.randint(min_len, max_len)))
            target = transform[task](source)
        if source not in seen:
            seen.add(source)
            pairs.append((list(source), list(target)))
            if len(pairs) == num_pairs:
                return pairs
    raise ValueError(
        f"could not draw {num_pairs} distinct {task!r} pairs with lengths {min_len}..{max_len} "
        f"and vocab_size {vocab_size} (only {len(pairs)}); widen the lengths or ask for fewer"
    )


def translation_pairs(
    lines: Sequence[str],
    direction: str = "fr-en",
    max_words: int = 10,
    english_prefixes: Sequence[str] | None = TUTORIAL_PREFIXES,
) -> list[Pair]:
    """Word-token pairs from ``English<TAB>French`` lines (extra columns are ignored).

    Both sides are :func:`normalize`-d; pairs where either side has ``max_words`` words or more,
    or (with ``english_prefixes``) whose English side starts with none of the prefixes, are
    dropped. ``direction`` is ``"fr-en"`` (French source) or ``"en-fr"``.

    Raises ValueError naming the line for a line without a tab.
    """
    if direction not in ("fr-en", "en-fr"):
        raise ValueError(f"direction must be 'fr-en' or 'en-fr', got {direction!r}")
    prefixes = tuple(english_prefixes or ())
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) < 2:
            raise ValueError(f"line {number}: expected 'English<TAB>French', got {line!r}")
        english, french = normalize(columns[0]), normalize(columns[1])
        en, fr = english.split(), french.split()
        if not en or not fr or len(en) >= max_words or len(fr) >= max_words:
            continue
        if prefixes and not (english + " ").startswith(prefixes):
            continue
        pairs.append((fr, en) if direction == "fr-en" else (en, fr))
    return pairs


def collate_pairs(
    batch: list[tuple[torch.Tensor, torch.Tensor]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pads encoded pairs into ``(src (N, S), src_lengths (N,), tgt (N, T))``."""
    sources, targets = zip(*batch, strict=True)
    lengths = torch.tensor([len(s) for s in sources])
    src = pad_sequence(list(sources), batch_first=True, padding_value=pad_id)
    return src, lengths, pad_sequence(list(targets), batch_first=True, padding_value=pad_id)


class PairsDataModule(SequenceDataModule):
    """Base of the pairs DataModules: split, vocabularies, encoding and loaders.

    Subclasses implement :meth:`load_pairs`. Pairs are shuffled with ``seed`` and split into
    train / val / test by ``val_fraction`` and ``test_fraction``; the source and target
    vocabularies (specials ``<pad>``, ``<sos>``, ``<eos>``, ``<unk>`` = ids 0..3, then tokens
    seen at least ``min_freq`` times) come from the training split.

    :meth:`describe` gives a :class:`PairsSpec`: the model's vocabulary
    sizes and special ids, and the task's vocabularies (``itos``) and token ``level``
    (``"char"`` or ``"word"``), which the task keeps in its checkpoint to decode.
    """

    level = "char"

    def __init__(
        self,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        min_freq: int = 1,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 < value < 1:
                raise ValueError(f"{name} must lie in (0, 1), got {value}")
        if val_fraction + test_fraction >= 1:
            raise ValueError(
                f"val_fraction + test_fraction must be < 1, got {val_fraction} + {test_fraction}"
            )
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.min_freq, self.batch_size, self.num_workers, self.seed = (
            min_freq, batch_size, num_workers, seed,
        )  # fmt: skip
        self.src_vocab: Vocabulary | None = None
        self.tgt_vocab: Vocabulary | None = None

    def load_pairs(self) -> list[Pair]:
        raise NotImplementedError

    def load(self) -> None:
        pairs = self.load_pairs()
        if len(pairs) < 3:
            raise ValueError(
                f"need at least 3 pairs to split into train/val/test, got {len(pairs)}"
            )
        random.Random(self.seed).shuffle(pairs)
        n_val = max(1, round(len(pairs) * self.val_fraction))
        n_test = max(1, round(len(pairs) * self.test_fraction))
        test, val, train = pairs[:n_test], pairs[n_test : n_test + n_val], pairs[n_test + n_val :]
        self.test_pairs = test
        self.src_vocab = Vocabulary.build((s for s, _ in train), SPECIALS, self.min_freq)
        self.tgt_vocab = Vocabulary.build((t for _, t in train), SPECIALS, self.min_freq)
        self.train_set, self.val_set, self.test_set = map(self._encode, (train, val, test))

    def _encode(self, pairs: list[Pair]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        eos = [self.tgt_vocab.stoi[EOS]]
        return [
            (torch.tensor(self.src_vocab.encode(s)), torch.tensor(self.tgt_vocab.encode(t) + eos))
            for s, t in pairs
        ]

    def spec(self) -> PairsSpec:
        return PairsSpec(
            src_vocab_size=len(self.src_vocab),
            tgt_vocab_size=len(self.tgt_vocab),
            pad_id=SPECIALS.index(PAD),
            sos_id=SPECIALS.index(SOS),
            eos_id=SPECIALS.index(EOS),
            src_vocab=list(self.src_vocab.itos),
            tgt_vocab=list(self.tgt_vocab.itos),
            level=self.level,
        )

    def _loader(self, dataset: list, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=partial(collate_pairs, pad_id=SPECIALS.index(PAD)),
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)


class SyntheticPairsDataModule(PairsDataModule):
    """Generated pairs of a synthetic task (see :func:`synthetic_pairs`), character tokens.

    Args:
        task: ``"reverse"``, ``"sort"``, ``"copy"`` or ``"add"``.
        num_pairs: distinct pairs generated in all (then split into train / val / test).
        min_len, max_len: source length range (digits per operand for ``"add"``).
        vocab_size: letters used (first ``vocab_size`` of a..z).
        **kwargs: split, batching and seed options of :class:`PairsDataModule`; ``seed`` also
            seeds the generation.

    Example::

        >>> dm = SyntheticPairsDataModule("reverse", num_pairs=100, min_len=3, max_len=5)
        >>> dm.describe().src_vocab_size
        30
        >>> src, src_lengths, tgt = next(iter(dm.train_dataloader()))
    """

    level = "char"

    def __init__(
        self,
        task: str = "reverse",
        num_pairs: int = 20000,
        min_len: int = 5,
        max_len: int = 20,
        vocab_size: int = 26,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.task, self.num_pairs = task, num_pairs
        self.min_len, self.max_len, self.vocab_size = min_len, max_len, vocab_size

    def load_pairs(self) -> list[Pair]:
        return synthetic_pairs(
            self.task, self.num_pairs, self.min_len, self.max_len, self.vocab_size, self.seed
        )


class TranslationDataModule(PairsDataModule):
    """Sentence pairs from an ``English<TAB>French`` file (see :func:`translation_pairs`).

    Args:
        path: the file, relative to ``data_dir`` (default ``$SEQMODELS_DATA_DIR``, see
            :func:`seqmodels.data.files.data_file`; downloaded when missing) or absolute.
        data_dir: data directory instead of ``$SEQMODELS_DATA_DIR``.
        direction: ``"fr-en"`` (French source, the default) or ``"en-fr"``.
        max_words: keep pairs whose sides both have fewer words.
        english_prefixes: keep only pairs whose English side starts with one of these (the
            tutorial's ``"i am "``, ``"he is "``, ... by default); None keeps all.
        **kwargs: split, vocabulary, batching and seed options of :class:`PairsDataModule`.
    """

    level = "word"

    def __init__(
        self,
        path: str = "eng-fra/eng-fra.txt",
        data_dir: str | None = None,
        direction: str = "fr-en",
        max_words: int = 10,
        english_prefixes: list[str] | None = list(TUTORIAL_PREFIXES),  # noqa: B006 (read only)
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if direction not in ("fr-en", "en-fr"):
            raise ValueError(f"direction must be 'fr-en' or 'en-fr', got {direction!r}")
        self.path, self.data_dir, self.direction = path, data_dir, direction
        self.max_words, self.english_prefixes = max_words, english_prefixes

    def prepare_data(self) -> None:
        data_file(self.path, self.data_dir)

    def load_pairs(self) -> list[Pair]:
        path = data_file(self.path, self.data_dir)
        lines = path.read_text(encoding="utf-8").splitlines()
        pairs = translation_pairs(lines, self.direction, self.max_words, self.english_prefixes)
        if not pairs:
            raise ValueError(
                f"{path}: no pair left after filtering (max_words={self.max_words}, "
                f"english_prefixes={self.english_prefixes})"
            )
        return pairs
