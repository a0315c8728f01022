"""Sentiment classification: TSV data, the SequenceClassifier and the classification task."""

from functools import partial

import lightning as L
import pytest
import torch

from seqmodels.models.classifier import SequenceClassifier
from seqmodels.preprocessing import tokenize
from seqmodels.tasks.classification import (
    ClassificationTask,
    LengthBucketSampler,
    TextClassificationDataModule,
    confusion_figure,
)

TRAIN = "text\tlabel\ngood movie\t1\nbad movie\t0\nvery good , very good !\t1\nnot good\t0\n"
TEST = "text\tlabel\ngood\t1\nawful film\t0\n"


@pytest.fixture
def tsv_dir(tmp_path, write_file):
    write_file(tmp_path / "train.tsv", TRAIN)
    write_file(tmp_path / "test.tsv", TEST)
    return tmp_path


def test_tokenize_lowercases_and_splits_words_and_punctuation():
    assert tokenize("It's NOT good, is it?") == ["it", "'s", "not", "good", ",", "is", "it", "?"]


def test_vocabulary_and_labels_come_from_the_training_file_only(tsv_dir):
    dm = TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tsv_dir))
    dm.setup("fit")
    assert dm.vocab.itos[:4] == ["<pad>", "<unk>", "good", "movie"]
    assert "awful" not in dm.vocab
    assert dm.describe().model_arguments() == {
        "vocab_size": len(dm.vocab),
        "num_classes": 2,
        "padding_idx": 0,
    }
    assert dm.describe().task_arguments() == {
        "vocab": dm.vocab.itos,
        "labels": ["0", "1"],
        "remove_html_breaks": False,
        "max_length": None,
        "keep": "head",
    }


def test_min_freq_and_max_size_limit_the_vocabulary(tsv_dir):
    dm = TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tsv_dir), min_freq=2)
    dm.setup("fit")
    assert dm.vocab.itos == ["<pad>", "<unk>", "good", "movie", "very"]
    dm = TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tsv_dir), max_size=1)
    dm.setup("fit")
    assert dm.vocab.itos == ["<pad>", "<unk>", "good"]


def test_batches_are_padded_with_lengths_and_unknown_words_map_to_unk(tsv_dir):
    dm = TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tsv_dir), batch_size=2)
    dm.setup("fit")
    tokens, lengths, labels = next(iter(dm.val_dataloader()))
    good, unk, film = dm.vocab.stoi["good"], dm.vocab.unk_index, dm.vocab.unk_index
    assert tokens.tolist() == [[good, 0], [unk, film]]
    assert lengths.tolist() == [1, 2] and labels.tolist() == [1, 0]
    tokens, lengths, _ = next(iter(dm.train_dataloader()))
    assert tokens.shape == (2, lengths.max()) and tokens.dtype == torch.long


def test_length_buckets_hold_similar_lengths_in_random_order_with_the_partial_batch_last():
    lengths = torch.randperm(95).tolist()
    sampler = LengthBucketSampler(lengths, batch_size=10, pool_batches=10)
    epochs = [list(sampler), list(sampler)]
    for order in epochs:
        assert sorted(order) == list(range(95))
        batches = [sorted(lengths[i] for i in order[k : k + 10]) for k in range(0, 95, 10)]
        assert sorted(batches[:-1]) == [list(range(k, k + 10)) for k in range(0, 90, 10)]
        assert batches[-1] == list(range(90, 95))
    assert epochs[0] != epochs[1]


def test_without_a_val_file_the_last_rows_are_held_out_and_test_is_val(tsv_dir):
    dm = TextClassificationDataModule(
        "train.tsv", val_file=None, data_dir=str(tsv_dir), val_fraction=0.25
    )
    dm.setup("fit")
    assert (len(dm.train_set), len(dm.val_set)) == (3, 1)
    assert dm.test_set is dm.val_set


def test_evaluation_batches_go_in_order_of_length(tsv_dir, write_file):
    write_file(tsv_dir / "val.tsv", "text\tlabel\na b c\t1\nd\t0\ne f\t1\n")
    dm = TextClassificationDataModule("train.tsv", "val.tsv", data_dir=str(tsv_dir), batch_size=3)
    dm.setup("fit")
    _, lengths, labels = next(iter(dm.val_dataloader()))
    assert lengths.tolist() == [1, 2, 3] and labels.tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("text\tlabel\ngood\t1\n\nbad\t0\n", "line 3: empty line"),
        ("text\tlabel\ngood 1\n", "line 2: 1 columns where the first row has 2"),
        ("text\tlabel\n \t1\n", "line 2, column 'text': the text has no token"),
        ("text\tlabel\n", "holds no rows"),
    ],
)
def test_malformed_files_are_errors_naming_file_and_line(tmp_path, content, message, write_file):
    dm = TextClassificationDataModule(write_file(tmp_path / "bad.tsv", content), val_file=None)
    with pytest.raises(ValueError, match=f"bad.tsv.*{message}"):
        dm.setup("fit")


def test_missing_file_names_the_path_and_the_data_dir_variable(tmp_path):
    dm = TextClassificationDataModule("nope/train.tsv", None, data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="nope/train.tsv.*SEQMODELS_DATA_DIR"):
        dm.setup("fit")


# ---- SequenceClassifier ------------------------------------------------------------------------


def classifier(**kwargs):
    torch.manual_seed(0)
    defaults = {"vocab_size": 12, "num_classes": 3, "embedding_dim": 6, "hidden_size": 5}
    return SequenceClassifier(**{**defaults, **kwargs}).eval()


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize(
    ("cell", "bidirectional", "merge"),
    [("rnn", False, "concat"), ("lstm", True, "concat"), ("gru", True, "sum")],
)
def test_padding_never_changes_the_logits_of_a_sequence(pooling, cell, bidirectional, merge):
    model = classifier(pooling=pooling, cell=cell, bidirectional=bidirectional, merge=merge)
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0, 0], [7, 8, 9, 10, 11, 2]])
    alone = model(short, torch.tensor([3]))
    in_batch = model(padded, torch.tensor([3, 6]))
    assert in_batch.shape == (2, 3)
    torch.testing.assert_close(in_batch[:1], alone)


def test_last_pooling_of_a_bidirectional_encoder_merges_both_final_states():
    model = classifier(cell="gru", bidirectional=True, merge="concat", pooling="last")
    tokens = torch.tensor([[3, 4, 5, 6]])
    output, _ = model.encoder(model.embedding(tokens))  # (1, 4, 2H): forward then backward
    expected = torch.cat([output[0, -1, :5], output[0, 0, 5:]])
    torch.testing.assert_close(model(tokens), model.head(expected)[None])


def test_one_hot_input_and_multiple_layers():
    model = classifier(embedding_dim=None, num_layers=2, cell="layernorm_lstm", pooling="mean")
    assert model.embedding is None
    assert model(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 2])).shape == (2, 3)


def test_torch_and_seqmodels_implementations_agree_on_the_same_weights():
    ours = classifier(cell="lstm", bidirectional=True, pooling="max")
    theirs = classifier(cell="lstm", bidirectional=True, pooling="max", impl="torch")
    theirs.load_state_dict(ours.state_dict())
    tokens, lengths = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    torch.testing.assert_close(ours(tokens, lengths), theirs(tokens, lengths))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pooling must be one of"):
        classifier(pooling="first")
    with pytest.raises(
        ValueError, match=r"lengths must be \(N,\) = \(2,\) with values in \[1, 3\]"
    ):
        classifier()(torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([3, 0]))
    with pytest.raises(ValueError, match=r"tokens must be \(N, L\)"):
        classifier()(torch.tensor([1, 2, 3]))


# ---- ClassificationTask ------------------------------------------------------------------------


def fit_classifier(tsv_dir, quiet_trainer, **trainer_kwargs):
    dm = TextClassificationDataModule("train.tsv", "test.tsv", data_dir=str(tsv_dir), batch_size=4)
    dm.setup("fit")
    spec = {"_target_": "seqmodels.models.SequenceClassifier", "embedding_dim": 8, "hidden_size": 8}
    torch.manual_seed(0)
    task = ClassificationTask(
        {**spec, **dm.describe().model_arguments()},
        optimizer=partial(torch.optim.Adam, lr=0.05),
        **dm.describe().task_arguments(),
    )
    trainer_kwargs = {"max_epochs": 25, **trainer_kwargs}
    trainer = quiet_trainer(num_sanity_val_steps=0, **trainer_kwargs)
    trainer.fit(task, datamodule=dm)
    return task, trainer


def test_task_learns_and_its_checkpoint_predicts_without_hydra(tsv_dir, tmp_path, quiet_trainer):
    task, trainer = fit_classifier(tsv_dir, quiet_trainer, logger=False)
    assert {"train/loss", "train/acc", "val/loss", "val/acc", "val/f1"} <= set(
        trainer.callback_metrics
    )
    assert trainer.callback_metrics["train/acc"] == 1.0
    assert trainer.callback_metrics["train/tokens_per_s"] > 0
    trainer.save_checkpoint(tmp_path / "model.ckpt")
    loaded = ClassificationTask.load_from_checkpoint(tmp_path / "model.ckpt")
    texts = ["good movie", "bad movie", "very good , very good !", "not good"]
    assert loaded.predict(texts) == ["1", "0", "1", "0"]
    with pytest.raises(ValueError, match="without any token"):
        loaded.predict(["  "])


def test_predict_reads_texts_with_the_settings_of_training():
    spec = {"_target_": "seqmodels.models.SequenceClassifier", "vocab_size": 4, "num_classes": 2}
    vocab = ["<pad>", "<unk>", "a", "b"]
    task = ClassificationTask(
        spec, vocab, ["neg", "pos"], remove_html_breaks=True, max_length=3, keep="tail"
    )
    tokens, lengths = task.encode(["b zz A<br />B", "b"])
    assert tokens.tolist() == [[1, 2, 3], [3, 0, 0]] and lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="keep must be one of"):
        ClassificationTask(spec, vocab, ["neg", "pos"], max_length=3, keep="start")


def test_confusion_matrix_figure_goes_to_tensorboard_at_each_validation(
    tsv_dir, tmp_path, quiet_trainer
):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = L.pytorch.loggers.TensorBoardLogger(tmp_path, name="", version="")
    fit_classifier(tsv_dir, quiet_trainer, logger=logger, max_epochs=2)
    events = EventAccumulator(str(tmp_path)).Reload()
    assert len(events.Images("val/confusion_matrix")) == 2


def test_confusion_figure_shows_counts_with_true_rows_and_predicted_columns():
    figure = confusion_figure(torch.tensor([[5, 1], [2, 7]]), ["neg", "pos"])
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.texts] == ["5", "1", "2", "7"]
    assert (axes.get_ylabel(), axes.get_xlabel()) == ("true", "predicted")


def test_labels_must_match_the_number_of_classes():
    spec = {"_target_": "seqmodels.models.SequenceClassifier", "vocab_size": 5, "num_classes": 3}
    with pytest.raises(ValueError, match="labels has 2 entries but model num_classes is 3"):
        ClassificationTask(spec, labels=["0", "1"])


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_classifier_without_lengths_equals_full_lengths(pooling):
    """Unpadded batches skip packing (the path that exports); the result is the same."""
    torch.manual_seed(0)
    model = SequenceClassifier(20, 3, embedding_dim=6, cell="lstm", hidden_size=8,
                               bidirectional=True, pooling=pooling).eval()  # fmt: skip
    tokens = torch.randint(1, 20, (4, 7))
    torch.testing.assert_close(model(tokens), model(tokens, torch.full((4,), 7)))


def test_classifier_regularisers_act_in_training_only():
    torch.manual_seed(0)
    model = SequenceClassifier(20, 3, embedding_dim=6, cell="lstm", hidden_size=8,
                               embedding_dropout=0.5, recurrent_dropout=0.5, weight_drop=0.5,
                               zoneout=0.2)  # fmt: skip
    tokens = torch.randint(1, 20, (4, 7))
    assert not torch.equal(model(tokens), model(tokens))  # fresh masks per forward
    model.eval()
    torch.testing.assert_close(model(tokens), model(tokens))
    with pytest.raises(ValueError, match="embedding_dropout=0.5 needs an embedding"):
        SequenceClassifier(20, 3, embedding_dim=None, embedding_dropout=0.5)
