"""The data directory: a failed download leaves nothing behind."""

import pytest

from seqmodels.data import files


@pytest.mark.parametrize("existing", ["", "cache"])
def test_a_failed_download_removes_the_folders_it_created(monkeypatch, tmp_path, existing):
    url = (tmp_path / "nowhere.zip").as_uri()  # no such file: urlopen fails as offline
    monkeypatch.setitem(files.SOURCES, "sst2/train.tsv", files.Source(url, "SST-2/train.tsv"))
    (tmp_path / existing).mkdir(exist_ok=True)
    root = tmp_path / "cache" / "seqmodels"
    with pytest.raises(
        FileNotFoundError,
        match=r"train.tsv, or point \$SEQMODELS_DATA_DIR at a folder that holds sst2/train.tsv",
    ):
        files.data_file("sst2/train.tsv", root=root)
    assert not root.exists()
    assert (tmp_path / "cache").exists() == (existing == "cache")  # only what it created goes


def test_a_failed_download_keeps_folders_that_were_there(monkeypatch, tmp_path):
    url = (tmp_path / "nowhere.zip").as_uri()
    monkeypatch.setitem(files.SOURCES, "sst2/train.tsv", files.Source(url, "SST-2/train.tsv"))
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\n")
    with pytest.raises(FileNotFoundError):
        files.data_file("sst2/train.tsv", root=tmp_path)
    assert sorted(path.name for path in (tmp_path / "sst2").iterdir()) == ["dev.tsv"]
