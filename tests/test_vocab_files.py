"""Vocabulary and data files: building, encoding, the data directory, downloads and their errors."""

import zipfile

import pytest
import torch

from seqmodels.data import files
from seqmodels.preprocessing import PAD, UNK, Vocabulary


def test_build_puts_specials_first_then_tokens_by_frequency_then_first_appearance():
    vocab = Vocabulary.build([["b", "a", "c"], ["a", "c", "d"]], specials=[PAD, UNK])
    assert vocab.itos == [PAD, UNK, "a", "c", "b", "d"]
    assert (vocab.pad_index, vocab.unk_index) == (0, 1)


def test_build_applies_min_freq_and_max_size_without_counting_specials():
    sequences = [["a"] * 3 + ["b"] * 2 + ["c"] * 2 + ["d"]]
    assert Vocabulary.build(sequences, specials=[PAD], min_freq=2).itos == [PAD, "a", "b", "c"]
    assert Vocabulary.build(sequences, specials=[PAD], max_size=2).itos == [PAD, "a", "b"]


def test_build_from_strings_makes_a_character_vocabulary():
    vocab = Vocabulary.build(["hello"])
    assert vocab.itos == ["l", "h", "e", "o"]
    assert "".join(vocab.decode(vocab.encode("hole"))) == "hole"
    assert vocab.pad_index is None


def test_unknown_tokens_map_to_unk_or_raise_when_there_is_none():
    assert Vocabulary([PAD, UNK, "a"]).encode(["a", "zebra"]) == [2, 1]
    with pytest.raises(ValueError, match="token 'z' is not in the vocabulary"):
        Vocabulary(["a", "b"]).encode("az")


def test_itos_round_trip_rebuilds_the_same_vocabulary_and_decodes_tensors():
    vocab = Vocabulary.build([["x", "y", "y"]], specials=[PAD, UNK])
    rebuilt = Vocabulary(list(vocab.itos))
    assert rebuilt.stoi == vocab.stoi and len(rebuilt) == 4
    assert rebuilt.decode(torch.tensor([3, 2])) == ["x", "y"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="distinct tokens.*'a'"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        Vocabulary.build([["a"]], min_freq=0)


def test_data_dir_comes_from_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(tmp_path))
    assert files.data_dir() == tmp_path
    monkeypatch.delenv("SEQMODELS_DATA_DIR")
    assert files.data_dir() == files.Path("~/.cache/seqmodels").expanduser()


def test_existing_files_are_found_under_the_data_dir_or_an_explicit_root(monkeypatch, tmp_path):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\n")
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(tmp_path))
    assert files.data_file("sst2/dev.tsv") == tmp_path / "sst2" / "dev.tsv"
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(tmp_path / "elsewhere"))
    assert files.data_file("sst2/dev.tsv", root=tmp_path) == tmp_path / "sst2" / "dev.tsv"


def test_a_file_that_exists_as_given_is_used_as_it_is(monkeypatch, tmp_path):
    (tmp_path / "mine.txt").write_text("hello")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(tmp_path / "elsewhere"))
    assert files.data_file("mine.txt") == files.Path("mine.txt")
    assert files.data_file(tmp_path / "mine.txt") == tmp_path / "mine.txt"


def test_missing_file_is_downloaded_from_its_source(monkeypatch, tmp_path):
    source = tmp_path / "input.txt"
    source.write_text("First Citizen:\n")
    monkeypatch.setitem(files.SOURCES, "tinyshakespeare/input.txt", files.Source(source.as_uri()))
    path = files.data_file("tinyshakespeare/input.txt", root=tmp_path / "data")
    assert path.read_text() == "First Citizen:\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["input.txt"]  # no temporary left


def test_missing_file_is_extracted_from_a_downloaded_zip(monkeypatch, tmp_path):
    archive = tmp_path / "SST-2.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("SST-2/dev.tsv", "sentence\tlabel\ngood \t1\n")
    monkeypatch.setitem(
        files.SOURCES, "sst2/dev.tsv", files.Source(archive.as_uri(), "SST-2/dev.tsv")
    )
    path = files.data_file("sst2/dev.tsv", root=tmp_path / "data")
    assert path.read_text() == "sentence\tlabel\ngood \t1\n"


def test_failed_download_names_the_path_the_variable_and_the_url(monkeypatch, tmp_path):
    url = (tmp_path / "nowhere.zip").as_uri()
    monkeypatch.setitem(files.SOURCES, "sst2/train.tsv", files.Source(url, "SST-2/train.tsv"))
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(tmp_path))
    expected = f"{tmp_path / 'sst2' / 'train.tsv'}.*SEQMODELS_DATA_DIR.*{url}.*'SST-2/train.tsv'"
    with pytest.raises(FileNotFoundError, match=expected):
        files.data_file("sst2/train.tsv")
    assert not (tmp_path / "sst2" / "train.tsv").exists()


def test_file_without_a_download_says_where_its_content_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="SEQMODELS_DATA_DIR.*vzhou842/rnn-from-scratch"):
        files.data_file("tiny-sentiment/train.tsv", root=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"mine\.txt.*no known source"):
        files.data_file("mine.txt", root=tmp_path)
