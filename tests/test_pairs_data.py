"""Seq2seq data: synthetic tasks, translation pairs, vocabularies, splits and batches."""

import pytest
import torch

from seqmodels.preprocessing import normalize
from seqmodels.tasks.seq2seq import (
    SyntheticPairsDataModule,
    TranslationDataModule,
    synthetic_pairs,
    translation_pairs,
)


@pytest.mark.parametrize(
    "task, check",
    [
        ("reverse", lambda s, t: t == s[::-1]),
        ("sort", lambda s, t: t == sorted(s)),
        ("copy", lambda s, t: t == s),
        ("add", lambda s, t: int("".join(t)) == sum(map(int, "".join(s).split("+")))),
    ],
)
def test_synthetic_targets_follow_the_task(task, check):
    pairs = synthetic_pairs(task, 200, min_len=2, max_len=6, vocab_size=5, seed=3)
    assert len(pairs) == 200
    assert all(check(source, target) for source, target in pairs)


def test_synthetic_lengths_vocabulary_and_distinct_sources():
    pairs = synthetic_pairs("reverse", 300, min_len=5, max_len=8, vocab_size=4, seed=0)
    assert {len(s) for s, _ in pairs} == {5, 6, 7, 8}
    assert {c for s, _ in pairs for c in s} == set("abcd")
    assert len({"".join(s) for s, _ in pairs}) == 300
    operands = [
        x for s, _ in synthetic_pairs("add", 100, 2, 3, seed=0) for x in "".join(s).split("+")
    ]
    assert {len(x) for x in operands} == {2, 3} and not any(x.startswith("0") for x in operands)


def test_synthetic_pairs_are_seeded():
    assert synthetic_pairs("sort", 20, 3, 9, seed=7) == synthetic_pairs("sort", 20, 3, 9, seed=7)
    assert synthetic_pairs("sort", 20, 3, 9, seed=7) != synthetic_pairs("sort", 20, 3, 9, seed=8)


def test_synthetic_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="task must be one of"):
        synthetic_pairs("rotate", 10, 1, 3)
    with pytest.raises(ValueError, match="min_len <= max_len"):
        synthetic_pairs("copy", 10, 4, 3)
    with pytest.raises(ValueError, match=r"vocab_size must lie in \[1, 26\]"):
        synthetic_pairs("copy", 10, 1, 3, vocab_size=27)
    with pytest.raises(ValueError, match="could not draw 10 distinct 'copy' pairs"):
        synthetic_pairs("copy", 10, 1, 1, vocab_size=3)  # only 3 sources exist


def test_normalize_strips_accents_and_splits_punctuation():
    assert normalize("Ça alors\u202f!") == "ca alors !"
    assert normalize("  J'ai   GAGNÉ. ") == "j ai gagne ."
    assert normalize("Où es-tu ?") == "ou es tu ?"


LINES = [
    "I'm cold.\tJ'ai froid.",
    "He is a very very very very very tall man.\tC'est un homme très grand.",  # 10 English words
    "Go.\tVa !",  # no tutorial prefix
    "You're late!\tTu es en retard !",
]


def test_translation_pairs_filter_and_direction():
    assert translation_pairs(LINES) == [
        (["j", "ai", "froid", "."], ["i", "m", "cold", "."]),
        (["tu", "es", "en", "retard", "!"], ["you", "re", "late", "!"]),
    ]
    everything = translation_pairs(LINES, direction="en-fr", english_prefixes=None)
    assert [source for source, _ in everything] == [
        ["i", "m", "cold", "."],
        ["go", "."],
        ["you", "re", "late", "!"],
    ]
    with pytest.raises(ValueError, match="line 2: expected 'English<TAB>French'"):
        translation_pairs(["a\tb", "no tab here"])
    with pytest.raises(ValueError, match="direction must be 'fr-en' or 'en-fr'"):
        translation_pairs(LINES, direction="de-en")


def test_synthetic_datamodule_splits_vocabularies_and_batches():
    dm = SyntheticPairsDataModule("reverse", num_pairs=100, min_len=3, max_len=6, batch_size=8)
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (80, 10, 10)
    sources = [
        tuple(s.tolist()) for split in (dm.train_set, dm.val_set, dm.test_set) for s, _ in split
    ]
    assert len(set(sources)) == 100  # the splits do not overlap
    assert dm.src_vocab.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert dm.describe().model_arguments() == {
        "src_vocab_size": 30, "tgt_vocab_size": 30, "pad_id": 0, "sos_id": 1, "eos_id": 2,
    }  # fmt: skip
    assert dm.describe().level == "char" and dm.describe().tgt_vocab == dm.tgt_vocab.itos
    src, lengths, tgt = next(iter(dm.val_dataloader()))
    assert src.shape == (8, int(lengths.max())) and tgt.shape == (8, src.size(1) + 1)
    for row, n, target in zip(src, lengths, tgt, strict=True):
        assert (row[n:] == 0).all() and (row[:n] > 3).all()
        assert target[n] == 2 and (target[n + 1 :] == 0).all()  # <eos> then padding
        decoded = dm.tgt_vocab.decode(target[:n])
        assert decoded == dm.src_vocab.decode(row[:n])[::-1]


def test_datamodule_split_is_seeded():
    def test_sources(seed):
        dm = SyntheticPairsDataModule("copy", num_pairs=50, min_len=2, max_len=5, seed=seed)
        dm.setup()
        return [s.tolist() for s, _ in dm.test_set]

    assert test_sources(1) == test_sources(1)
    assert test_sources(1) != test_sources(2)


def test_translation_datamodule_reads_a_tsv(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("\n".join(LINES * 5) + "\n", encoding="utf-8")
    dm = TranslationDataModule(str(path), english_prefixes=None, batch_size=4)
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_set) + len(dm.val_set) + len(dm.test_set) == 15
    assert dm.describe().level == "word"
    assert "froid" in dm.src_vocab and "cold" in dm.tgt_vocab
    src, lengths, tgt = next(iter(dm.train_dataloader()))
    assert src.dtype == tgt.dtype == torch.long and lengths.shape == (4,)
    (tmp_path / "eng-fra").mkdir()
    (tmp_path / "eng-fra" / "eng-fra.txt").write_text(LINES[0], encoding="utf-8")
    dm = TranslationDataModule(data_dir=str(tmp_path), val_fraction=0.2, test_fraction=0.2)
    with pytest.raises(ValueError, match="need at least 3 pairs"):
        dm.setup()


def test_translation_datamodule_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        TranslationDataModule(str(tmp_path / "missing.tsv")).prepare_data()
    path = tmp_path / "pairs.tsv"
    path.write_text("Go.\tVa !\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no pair left after filtering"):
        TranslationDataModule(str(path)).setup()
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        TranslationDataModule(str(path), val_fraction=0.5, test_fraction=0.5)
