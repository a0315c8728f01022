"""Text classification files as they come: TSV or CSV, quoted fields, Unicode separators inside
texts, named columns, word labels, long texts; and the errors for bad input."""

import csv
import logging
from functools import partial

import pytest

from seqmodels.data.files import column_index, read_table, table_format
from seqmodels.preprocessing import tokenize, truncate
from seqmodels.tasks.classification import TextClassificationDataModule, read_labeled_texts
from seqmodels.tasks.classification.data import sorted_labels

# Separators that str.splitlines() breaks at but that are text inside a row.
SEPARATORS = ["\u0085", "\u2028", "\u2029", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"]


def reviews_csv(path, rows, header=("id", "review", "sentiment", "rating")):
    """A CSV written by the csv module (as spreadsheets and pandas write them)."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


TRAIN_ROWS = [
    (1, 'A "gem", truly.\nSee it.', "positive", 9),
    (2, "Dull, dull, dull.", "negative", 2),
    (3, "Loved it.<br /><br />Great cast", "positive", 8),
    (4, "Awful\u0085 plot", "negative", 1),
]


def module(tmp_path, **kwargs):
    reviews_csv(tmp_path / "train.csv", TRAIN_ROWS)
    kwargs = {"val_file": None, "val_fraction": 0.25, "text_column": "review"} | kwargs
    return TextClassificationDataModule(
        "train.csv", data_dir=str(tmp_path), label_column="sentiment", **kwargs
    )


# ---- reading tables ----------------------------------------------------------------------------


def test_rows_end_only_at_newlines_and_unicode_separators_stay_in_the_text(tmp_path, write_file):
    text = "a" + "b".join(SEPARATORS) + "z"
    path = write_file(tmp_path / "t.tsv", f"text\tlabel\r\n{text}\t1\r\nnext\t0\n")
    rows = read_table(path, "tsv")
    assert [row.line for row in rows] == [1, 2, 3]
    assert rows[1].fields == [text, "1"] and rows[2].fields == ["next", "0"]


def test_quoted_fields_hold_delimiters_doubled_quotes_and_newlines(tmp_path, write_file):
    path = reviews_csv(tmp_path / "r.csv", TRAIN_ROWS)
    rows = read_table(path, "csv")
    assert rows[1].fields == ["1", 'A "gem", truly.\nSee it.', "positive", "9"]
    assert [row.line for row in rows] == [1, 2, 4, 5, 6]  # the first review spans lines 2-3
    tsv = write_file(tmp_path / "q.tsv", 'text\tlabel\n"tab\there\nand a newline"\t1\nplain\t0\n')
    assert [row.fields for row in read_table(tsv, "tsv")[1:]] == [
        ["tab\there\nand a newline", "1"],
        ["plain", "0"],
    ]


def test_without_quoting_quotes_are_plain_characters(tmp_path, write_file):
    path = write_file(tmp_path / "t.tsv", 'text\tlabel\n"Bromwell High" is a cartoon\t1\n')
    assert read_table(path, "tsv", quoting=False)[1].fields == ['"Bromwell High" is a cartoon', "1"]


def test_a_byte_order_mark_is_skipped(tmp_path, write_file):
    path = write_file(tmp_path / "t.csv", "review,sentiment\ngood,pos\n", encoding="utf-8-sig")
    assert read_table(path, "csv")[0].fields == ["review", "sentiment"]


def test_format_comes_from_the_extension_or_the_option():
    assert table_format("a/b.tsv") == "tsv" and table_format("B.CSV") == "csv"
    assert table_format("reviews.txt", "csv") == "csv"
    with pytest.raises(ValueError, match=r"extension of reviews.txt: use 'tsv' or 'csv'"):
        table_format("reviews.txt")
    with pytest.raises(ValueError, match=r"format='json'"):
        table_format("reviews.csv", "json")


def test_columns_are_found_by_header_name_or_index():
    header = ["id", "review", "sentiment"]
    assert column_index("sentiment", header, "r.csv") == 2
    assert column_index(1, header, "r.csv") == 1
    assert column_index(0, ["good", "1"], "r.tsv", header=False) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n\n3,4\n", r"t.csv, line 3: empty line"),
        (
            "a,b\n1,2\n1,2,3\n",
            r"t.csv, line 3: 3 columns where the first row has 2 \(a field that holds a comma must be quoted\)",
        ),
        ("a,b\n1,2\n3\n", r"t.csv, line 3: 1 columns where the first row has 2: \['3'\]"),
        (
            'a,b\n1,2\n"open,2\n5,6\n',
            r"t.csv, line 3: unexpected end of data \(a field that starts with \" is quoted",
        ),
        ('a,b\n"gem" indeed,2\n', r"t.csv, line 2: ',' expected after '\"'.*quoting=False"),
        ("a,b\nx\ry,2\n", r"t.csv, line 2: a carriage return \(\\r\) inside an unquoted field"),
    ],
)
def test_malformed_tables_name_the_file_and_line(tmp_path, content, message, write_file):
    path = write_file(tmp_path / "t.csv", content)
    with pytest.raises(ValueError, match=message):
        read_table(path, "csv")


def test_bytes_that_are_not_utf8_name_their_line(tmp_path, write_file):
    path = write_file(tmp_path / "t.csv", "a,b\ngood,1\ncaf\xe9,0\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"t.csv, line 3: not UTF-8.*re-encode"):
        read_table(path, "csv")


@pytest.mark.parametrize(
    ("column", "header", "message"),
    [
        ("text", True, r"r.csv, line 1: no column named 'text'; the header is \['id', 'review'\]"),
        ("review", False, r"r.csv: column 'review' is a name but the file has no header"),
        (2, True, r"r.csv: column index 2 is out of range: the file has 2 columns"),
    ],
)
def test_unknown_columns_are_errors(column, header, message):
    with pytest.raises(ValueError, match=message):
        column_index(column, ["id", "review"], "r.csv", header)


# ---- labelled texts ----------------------------------------------------------------------------


def test_labelled_texts_come_from_named_columns_of_a_csv_with_extra_columns(tmp_path):
    path = reviews_csv(tmp_path / "r.csv", TRAIN_ROWS)
    texts = read_labeled_texts(path, text_column="review", label_column="sentiment")
    assert [(t.line, t.label) for t in texts] == [
        (2, "positive"),
        (4, "negative"),
        (5, "positive"),
        (6, "negative"),
    ]
    assert texts[3].text == "Awful\u0085 plot"
    assert read_labeled_texts(path, text_column=1, label_column=3)[0].label == "9"


def test_label_first_files_without_a_header(tmp_path, write_file):
    path = write_file(tmp_path / "r.tsv", "1\tgood film\n0\tbad film\n")
    texts = read_labeled_texts(path, text_column=1, label_column=0, header=False)
    assert [(t.line, t.text, t.label) for t in texts] == [
        (1, "good film", "1"),
        (2, "bad film", "0"),
    ]


def test_labelled_text_errors(tmp_path, write_file):
    path = write_file(tmp_path / "r.csv", "review,sentiment\ngood, \n")
    with pytest.raises(ValueError, match=r"r.csv, line 2, column 'sentiment': empty label"):
        read_labeled_texts(path, "review", "sentiment")
    with pytest.raises(
        ValueError,
        match=r"r.csv: the texts and the labels would come from the same column, 'review' "
        r"\(text_column='review', label_column=0\); choose two columns: data.text_column=",
    ):
        read_labeled_texts(path, "review", 0)
    with pytest.raises(ValueError, match=r"same column, 'review' \(text_column=None, label"):
        read_labeled_texts(path, label_column="review")


# ---- choosing the columns ------------------------------------------------------------------------

SENTENCES = [f"a {word} film, number {i}" for i, word in enumerate(["fine", "dull"] * 6)]


def id_text_label_tsv(path, write_file, header="id\ttext\tlabel"):
    """12 rows of ``id<TAB>text<TAB>label``: the columns of a file with an extra leading one."""
    rows = "".join(f"{i}\t{text}\t{i % 2}\n" for i, text in enumerate(SENTENCES))
    return write_file(path, f"{header}\n{rows}")


def test_columns_are_found_by_header_name_case_ignored(tmp_path, write_file):
    path = id_text_label_tsv(tmp_path / "r.tsv", write_file, header="ID\tSentence\tSentiment")
    texts = read_labeled_texts(path)
    assert (texts[0].text, texts[0].label) == ("a fine film, number 0", "0")


def test_an_extra_leading_column_trains_on_the_named_columns(tmp_path, write_file):
    id_text_label_tsv(tmp_path / "train.tsv", write_file)
    dm = TextClassificationDataModule("train.tsv", val_file=None, data_dir=str(tmp_path))
    assert dm.describe().labels == ["0", "1"]
    assert {"fine", "dull", "film"} <= set(dm.describe().vocab)


def test_unknown_header_names_name_the_header_and_the_override(tmp_path, write_file):
    path = write_file(tmp_path / "r.csv", "phrase,score\ngood,1\n")
    with pytest.raises(
        ValueError,
        match=r"r.csv: no text column found by name; the header is \['phrase', 'score'\], and the "
        r"names looked for are \['text', 'sentence', .*\]. Choose the column: "
        r"data.text_column=<name or index>",
    ):
        read_labeled_texts(path)
    with pytest.raises(ValueError, match=r"no label column found by name.*data.label_column="):
        read_labeled_texts(path, text_column="phrase")


def test_a_file_without_a_header_needs_column_indices(tmp_path, write_file):
    path = write_file(tmp_path / "r.tsv", "good film\t1\n")
    with pytest.raises(
        ValueError,
        match=r"r.tsv has no header \(header=false\), so its text column cannot be found by "
        r"name; give its 0-based index: data.text_column=<index> \(the first row is "
        r"\['good film', '1'\]\)",
    ):
        read_labeled_texts(path, header=False)


@pytest.mark.parametrize(
    ("columns", "label", "values"),
    [
        ({"text_column": "text", "label_column": "id"}, "id", "'0', '1', '2'"),
        # the columns a file with an extra leading id column gets by position 0 and 1
        ({"text_column": 0, "label_column": 1}, "text", "'a fine film, number 0', "),
    ],
)
def test_a_label_column_of_ids_or_texts_is_an_error_naming_the_columns(
    tmp_path, write_file, columns, label, values
):
    id_text_label_tsv(tmp_path / "train.tsv", write_file)
    dm = TextClassificationDataModule("train.tsv", None, data_dir=str(tmp_path), **columns)
    with pytest.raises(
        ValueError,
        match=rf"train.tsv: column '{label}' does not hold class labels: 12 distinct values in 12 "
        rf"rows \({values}.*\), as ids or texts would. The header is \['id', 'text', 'label'\]; "
        r"choose the columns: data.label_column=<name or index> data.text_column=<name or index>",
    ):
        dm.setup("fit")


def test_skipping_rows_never_empties_a_split_silently(tmp_path, write_file):
    id_text_label_tsv(tmp_path / "train.tsv", write_file)
    write_file(tmp_path / "dev.tsv", "id\ttext\tlabel\n1\tgood\tpositive\n2\tbad\tnegative\n")
    dm = TextClassificationDataModule(
        "train.tsv", "dev.tsv", data_dir=str(tmp_path), skip_bad_rows=True
    )
    with pytest.raises(
        ValueError,
        match=r"dev.tsv: none of the labels of its 2 rows \(e.g. 'positive'\) occurs in the "
        r"training file train.tsv \(its labels: \['0', '1'\]\), so data.skip_bad_rows=true would "
        r"leave its split empty; check data.label_column and data.text_column",
    ):
        dm.setup("fit")
    write_file(tmp_path / "dev.tsv", "id\ttext\tlabel\n1\t \t0\n2\t\t1\n")
    dm = TextClassificationDataModule(
        "train.tsv", "dev.tsv", data_dir=str(tmp_path), skip_bad_rows=True
    )
    with pytest.raises(
        ValueError,
        match=r"dev.tsv: none of its 2 rows has a text with a token, so its split would be "
        r"empty; check that data.text_column is the column of the texts",
    ):
        dm.setup("fit")


def test_label_names_name_the_classes(tmp_path, write_file):
    id_text_label_tsv(tmp_path / "train.tsv", write_file)
    names = {"0": "negative", "1": "positive"}
    dm = TextClassificationDataModule("train.tsv", None, data_dir=str(tmp_path), label_names=names)
    assert dm.describe().labels == ["negative", "positive"]
    assert dm.train_set[0][1] == 0  # row 0, label "0"
    dm = TextClassificationDataModule(
        "train.tsv", None, data_dir=str(tmp_path), label_names={"0": "neg"}
    )
    with pytest.raises(
        ValueError,
        match=r"train.tsv, line 3: label '1' has no name in data.label_names \{'0': 'neg'\}",
    ):
        dm.setup("fit")


def test_labels_sort_by_value_when_they_are_integers():
    assert sorted_labels({"10", "2", "-1"}) == ["-1", "2", "10"]
    assert sorted_labels({"positive", "negative"}) == ["negative", "positive"]


# ---- the data module on such files -------------------------------------------------------------


def test_csv_with_word_labels_trains_with_the_label_order_in_task_kwargs(tmp_path):
    dm = module(tmp_path)
    dm.setup("fit")
    assert dm.labels == ["negative", "positive"]
    assert dm.describe().labels == ["negative", "positive"]
    assert [label for _, label in dm.train_set] == [1, 0, 1]
    assert "awful" not in dm.vocab  # the held-out row
    assert {"gem", "see", "br"} <= set(dm.vocab.itos)


def test_html_breaks_can_be_removed_by_the_tokenizer(tmp_path):
    assert tokenize("Loved it.<br /><br />Great<BR>cast<br/>", remove_html_breaks=True) == [
        "loved",
        "it",
        ".",
        "great",
        "cast",
    ]
    dm = module(tmp_path, remove_html_breaks=True)
    dm.setup("fit")
    assert "br" not in dm.vocab and dm.describe().remove_html_breaks is True


@pytest.mark.parametrize(
    ("keep", "expected"),
    [("head", list("abcd")), ("tail", list("defg")), ("both", list("abfg"))],
)
def test_truncation_keeps_the_head_the_tail_or_both(keep, expected):
    assert truncate(list("abcdefg"), 4, keep) == expected
    assert truncate(list("abc"), 4, keep) == list("abc")
    assert truncate(list("abcdefg"), None, keep) == list("abcdefg")


def test_max_length_cuts_every_file_and_logs_how_many_texts(tmp_path, caplog):
    dm = module(tmp_path, max_length=3, keep="tail", remove_html_breaks=True)
    with caplog.at_level(logging.INFO):
        dm.setup("fit")
    assert [len(tokens) for tokens, _ in dm.train_set] == [3, 3, 3]
    assert dm.vocab.decode(dm.train_set[2][0]) == [".", "great", "cast"]
    assert len(dm.val_set[0][0]) == 2  # "awful plot" is shorter than max_length
    assert "train.csv: 3 of 4 texts cut to max_length=3 tokens (keep='tail')" in caplog.text
    assert (dm.describe().max_length, dm.describe().keep) == (3, "tail")


def test_bad_truncation_settings_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"keep must be one of \('head', 'tail', 'both'\)"):
        module(tmp_path, max_length=10, keep="middle")
    with pytest.raises(ValueError, match="max_length must be >= 1 or None, got 0"):
        module(tmp_path, max_length=0)


def test_empty_text_is_an_error_naming_file_line_and_column(tmp_path):
    reviews_csv(tmp_path / "val.csv", [(9, "fine", "positive", 7), (10, " ", "negative", 1)])
    dm = module(tmp_path, val_file="val.csv")
    with pytest.raises(
        ValueError,
        match=r"val.csv, line 3, column 'review': the text has no token: ' ' \(1 such rows",
    ):
        dm.setup("fit")


def test_unknown_label_in_an_evaluation_file_is_an_error_naming_file_line_and_column(tmp_path):
    rows = [(9, "fine", "positive", 7), (10, "so-so", "neutral", 5), (11, "meh", "mixed", 5)]
    reviews_csv(tmp_path / "test.csv", rows)
    dm = module(tmp_path, test_file="test.csv")
    with pytest.raises(
        ValueError,
        match=r"test.csv, line 3, column 'sentiment': label 'neutral' does not occur in the "
        r"training file train.csv \(its labels: \['negative', 'positive'\]; 2 such rows",
    ):
        dm.setup("fit")


def test_missing_column_name_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"train.csv, line 1: no column named 'text'"):
        module(tmp_path, text_column="text").setup("fit")


def test_skip_bad_rows_drops_them_and_logs_the_count(tmp_path, caplog):
    rows = [(9, "fine", "positive", 7), (10, "so-so", "neutral", 5), (11, "!!", "negative", 1)]
    reviews_csv(tmp_path / "test.csv", [*rows, (12, "", "negative", 1)])
    dm = module(tmp_path, test_file="test.csv", skip_bad_rows=True)
    dm.setup("fit")
    assert [label for _, label in dm.test_set] == [1, 0]  # "fine" and "!!"
    assert "test.csv: dropped 1 of 4 rows whose text has no token" in caplog.text
    assert "test.csv: dropped 1 of 3 rows whose label is not a training label" in caplog.text


def test_a_task_trained_on_a_word_label_csv_predicts_words_from_its_checkpoint(
    tmp_path, quiet_trainer
):
    import torch

    from seqmodels.tasks.classification import ClassificationTask

    dm = module(tmp_path, remove_html_breaks=True, max_length=6, batch_size=4)
    dm.setup("fit")
    spec = {"_target_": "seqmodels.models.SequenceClassifier", "embedding_dim": 8, "hidden_size": 8}
    torch.manual_seed(0)
    task = ClassificationTask(
        {**spec, **dm.describe().model_arguments()},
        optimizer=partial(torch.optim.Adam, lr=0.05),
        **dm.describe().task_arguments(),
    )
    trainer = quiet_trainer(max_epochs=25, num_sanity_val_steps=0)
    trainer.fit(task, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = ClassificationTask.load_from_checkpoint(tmp_path / "model.ckpt")
    assert (loaded.labels, loaded.hparams.max_length) == (["negative", "positive"], 6)
    texts = [text for _, text, _, _ in TRAIN_ROWS[:3]]
    assert loaded.predict(texts) == ["positive", "negative", "positive"]
