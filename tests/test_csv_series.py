"""Reading real CSV files: target and covariates, calendar features, missing values, bad input."""

import logging
import math
import re

import pytest
import torch

from seqmodels.data.csv_series import read_csv_series


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text("month,passengers\n1949-01,112\n1949-02,118\n\n1949-03,132\n")
    return path


def test_column_by_name_or_index(csv_file, tmp_path, write_file):
    assert read_csv_series(csv_file, column="passengers").tolist() == [112, 118, 132]
    assert read_csv_series(csv_file, column=1).tolist() == [112, 118, 132]
    no_header = write_file(tmp_path / "data.csv", "1.5\n2.5\n")
    assert read_csv_series(no_header, column=0, header=False).tolist() == [1.5, 2.5]


def test_relative_path_is_looked_up_in_the_data_dir(csv_file, monkeypatch):
    monkeypatch.setenv("SEQMODELS_DATA_DIR", str(csv_file.parent))
    assert len(read_csv_series("series.csv", column="passengers")) == 3


def test_files_are_read_as_they_come(tmp_path, write_file):
    # byte-order mark, quoted names and fields, CRLF, a quoted comma, spaces, unused columns
    text = '\ufeff"Month", "Sales",note\r\n"1960-01",6550,"big, early"\r\n"1960-02", 8728 ,x\r\n'
    path = write_file(tmp_path / "data.csv", text)
    assert read_csv_series(path, column="Sales").tolist() == [6550, 8728]
    latin = write_file(
        tmp_path / "latin.csv", "t;température\n1;3,5\n".replace(",", "."), "latin-1"
    )
    assert read_csv_series(latin, "température", delimiter=";", encoding="latin-1").tolist() == [
        3.5
    ]


def test_covariates_come_after_the_target_and_categories_one_hot_in_sorted_order(
    tmp_path, write_file
):
    path = write_file(
        tmp_path / "data.csv", "y,a,b,wind\n1,10,100,NW\n2,20,200,cv\n3,30,300,NW\n4,40,400,SE\n"
    )
    table = read_csv_series(path, "y", covariates=["b", "a"], categorical=["wind"])
    assert table.shape == (4, 6)
    assert table[:, :3].tolist() == [[1, 100, 10], [2, 200, 20], [3, 300, 30], [4, 400, 40]]
    # categories NW, SE, cv (sorted)
    assert table[:, 3:].tolist() == [[1, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]]


def test_calendar_features_are_sine_and_cosine_of_the_date_phase(tmp_path, write_file):
    path = write_file(tmp_path / "data.csv", "date,y\n2024-01-01 00:00,1\n2024-04-03 06:00,2\n")
    table = read_csv_series(
        path, "y", date_column="date", calendar=["month", "day_of_week", "hour"]
    )
    assert table.shape == (2, 7)
    # 2024-04-03: month 4 (phase 3/12), a Wednesday (weekday 2 of 7), 6 h (6/24)
    angles = torch.tensor([3 / 12, 2 / 7, 6 / 24]) * 2 * math.pi
    expected = torch.stack((angles.sin(), angles.cos()), 1).flatten()
    torch.testing.assert_close(table[1, 1:], expected)
    torch.testing.assert_close(table[0, 1:], torch.tensor([0.0, 1.0] * 3))


def test_a_date_from_several_columns_with_a_format(tmp_path, write_file):
    path = write_file(tmp_path / "data.csv", "year,month,day,hour,y\n2010,1,1,18,5\n")
    table = read_csv_series(
        path,
        "y",
        date_column=["year", "month", "day", "hour"],
        date_format="%Y %m %d %H",
        calendar=["hour"],
    )
    torch.testing.assert_close(table, torch.tensor([[5.0, -1.0, 0.0]]), atol=1e-6, rtol=0)


MISSING = "y,x,c\n,1,a\n1,NA,b\n2,2,\n,3,a\n4,4,b\n6,NA,b\n"


@pytest.mark.parametrize(
    "missing, expected",
    [
        # rows with any missing value go
        ("drop", [[4, 4, 0, 1]]),
        # each gap takes the last value; row 1 has no earlier y and goes
        ("ffill", [[1, 1, 0, 1], [2, 2, 0, 1], [2, 3, 1, 0], [4, 4, 0, 1], [6, 4, 0, 1]]),
        # numbers linear between neighbours, categories as ffill; x ends missing: last row goes
        ("interpolate", [[1, 1.5, 0, 1], [2, 2, 0, 1], [3, 3, 1, 0], [4, 4, 0, 1]]),
    ],
)
def test_missing_values_are_handled_as_the_option_says(tmp_path, missing, expected, write_file):
    path = write_file(tmp_path / "data.csv", MISSING)
    table = read_csv_series(path, "y", covariates=["x"], categorical=["c"], missing=missing)
    assert table.tolist() == expected


@pytest.mark.parametrize(
    "missing, message",
    [
        ("drop", r"missing='drop' dropped 5 of 6 rows with a missing value \(missing values per "
         r"column: 'y': 2, 'x': 2, 'c': 1\)"),
        # y: row 4 filled (row 1 dropped), x: rows 2 and 6, c: row 3
        ("ffill", r"missing='ffill' forward-filled 4 missing values \('y': 1, 'x': 2, 'c': 1\) and "
         r"dropped 1 of 6 rows before the first value of some column"),
        ("interpolate", r"missing='interpolate' interpolated 3 missing values \('y': 1, 'x': 1, "
         r"'c': 1\) and dropped 2 of 6 rows before the first value or after the last of some column"),
    ],
)  # fmt: skip
def test_data_repairs_are_logged_with_counts(tmp_path, missing, message, write_file, caplog):
    path = write_file(tmp_path / "data.csv", MISSING)
    with caplog.at_level(logging.INFO, logger="seqmodels.data.csv_series"):
        read_csv_series(path, "y", covariates=["x"], categorical=["c"], missing=missing)
    assert re.search(rf"data.csv: {message}", caplog.text), caplog.text


def test_an_empty_file_says_it_is_empty(tmp_path, write_file):
    with pytest.raises(ValueError, match=r"empty.csv is empty: no header and no data rows"):
        read_csv_series(write_file(tmp_path / "empty.csv", ""), "value")
    with pytest.raises(ValueError, match=r"no data rows in .*header.csv"):
        read_csv_series(write_file(tmp_path / "header.csv", "time,value\n"), "value")


def test_a_missing_value_without_an_option_names_the_column_and_line(tmp_path, write_file):
    path = write_file(tmp_path / "data.csv", "y,x\n1,2\n2,NA\n")
    with pytest.raises(
        ValueError,
        match=r"missing value 'NA' in column 'x' at line 3 of .*data.csv; choose how to handle "
        r"missing values: data.series.missing=drop \| ffill \| interpolate",
    ):
        read_csv_series(path, "y", covariates=["x"])


def test_errors_name_the_file_column_and_line(csv_file, tmp_path, write_file):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_csv_series(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"column 'riders' not found .* \['month', 'passengers'\]"):
        read_csv_series(csv_file, column="riders")
    with pytest.raises(ValueError, match=r"column 'riders' not found"):
        read_csv_series(csv_file, column="passengers", covariates=["riders"])
    with pytest.raises(ValueError, match=r"non-numeric value '1949-01' in column 0 at line 2"):
        read_csv_series(csv_file, column=0)
    with pytest.raises(
        ValueError,
        match=r"column 'passengers' is a name but .*series.csv is read without a header "
        r"\(data.series.header=false\); give a 0-based index: data.series.column=...",
    ):
        read_csv_series(csv_file, column="passengers", header=False)
    with pytest.raises(
        ValueError,
        match=r"not found in .*; its columns are .*; choose one: data.series.covariates=",
    ):
        read_csv_series(csv_file, column="passengers", covariates=["riders"])
    with pytest.raises(ValueError, match=r"column 'passengers' out of range at line 3 of"):
        read_csv_series(write_file(tmp_path / "data.csv", "a,passengers\n1,2\n3\n"), "passengers")
    with pytest.raises(ValueError, match=r"non-numeric value 'inf' in column 'x' at line 3"):
        read_csv_series(write_file(tmp_path / "data.csv", "x\n1\ninf\n"), "x", missing="drop")


def test_bad_options_dates_and_encodings_are_errors(csv_file, tmp_path, write_file):
    with pytest.raises(ValueError, match=r"unknown missing='zero'; choose one of \[None, 'drop'"):
        read_csv_series(csv_file, "passengers", missing="zero")
    with pytest.raises(ValueError, match=r"unknown calendar features \['week'\]"):
        read_csv_series(csv_file, "passengers", date_column="month", calendar=["week"])
    with pytest.raises(ValueError, match=r"calendar features \['month'\] need a date_column"):
        read_csv_series(csv_file, "passengers", calendar=["month"])
    bad_date = write_file(tmp_path / "data.csv", "d,y\n2024-01,1\nJan 2024,2\n")
    with pytest.raises(
        ValueError, match=r"cannot read the date 'Jan 2024' of column 'd' at line 3"
    ):
        read_csv_series(bad_date, "y", date_column="d", calendar=["month"])
    latin = write_file(tmp_path / "latin.csv", "t,y\n1,température\n", "latin-1")
    with pytest.raises(
        ValueError, match=r"latin.csv is not valid utf-8-sig text .* encoding=latin-1"
    ):
        read_csv_series(latin, "y")
    with pytest.raises(ValueError, match=r"no data rows in .*empty.csv"):
        read_csv_series(write_file(tmp_path / "empty.csv", "y\n\n"), "y")
    with pytest.raises(ValueError, match=r"no data rows in .*gaps.csv after missing='drop'"):
        read_csv_series(write_file(tmp_path / "gaps.csv", "y\nNA\n"), "y", missing="drop")
