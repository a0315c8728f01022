"""Character language modelling: the text data, CharLM and the language-model task."""

import math
import runpy
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.trainer.states import RunningStage
from lightning.pytorch.utilities import rank_zero_only

from seqmodels.models.char_lm import CharLM
from seqmodels.tasks.language_model import (
    BPTTWindows,
    CharTextDataModule,
    LanguageModelTask,
    batchify,
)

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

TEXT = "to be or not to be, that is the question.\n" * 5  # 210 characters


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT)
    return path


def test_batchify_cuts_the_stream_into_contiguous_rows():
    assert batchify(torch.arange(11), 3).tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    with pytest.raises(ValueError, match="too short for batch_size 4"):
        batchify(torch.arange(7), 4)


def test_windows_continue_each_row_and_targets_are_shifted_by_one():
    streams = torch.arange(20).view(2, 10)
    windows = BPTTWindows(streams, seq_len=4)
    assert len(windows) == 3  # 9 input columns: 4 + 4 + 1
    (x0, y0), (x1, _), (x2, y2) = windows[0], windows[1], windows[2]
    assert x0.tolist() == [[0, 1, 2, 3], [10, 11, 12, 13]]
    assert y0.tolist() == [[1, 2, 3, 4], [11, 12, 13, 14]]
    assert x1[:, 0].tolist() == [4, 14]  # window 1 starts where window 0 stopped
    assert (x2.tolist(), y2.tolist()) == ([[8], [18]], [[9], [19]])


def test_data_module_splits_90_10_with_a_vocabulary_of_every_character(text_file):
    dm = CharTextDataModule(str(text_file), seq_len=8, batch_size=3)
    dm.setup("fit")
    assert sorted(dm.vocab.itos) == sorted(set(TEXT))
    assert dm.describe().model_arguments() == {"vocab_size": len(set(TEXT))}
    assert dm.describe().task_arguments() == {"vocab": dm.vocab.itos}
    assert dm.train_set.streams.shape == (3, 189 // 3)  # first 90% of 210 characters
    assert dm.val_set.streams.shape == (3, 21 // 3)
    inputs, targets = next(iter(dm.train_dataloader()))
    assert inputs.shape == targets.shape == (3, 8)
    text = "".join(dm.vocab.decode(torch.cat([inputs[0], targets[0, -1:]])))
    assert text == TEXT[:9]


def ddp_trainer(rank: int, monkeypatch) -> L.Trainer:
    """A 2-process DDP Trainer as process ``rank`` sees it, without launching processes."""
    trainer = L.Trainer(strategy="ddp", accelerator="cpu", devices=2, logger=False)
    monkeypatch.setattr(rank_zero_only, "rank", rank_zero_only.rank)  # set_global_rank sets it
    trainer.strategy.cluster_environment.set_global_rank(rank)
    assert (trainer.world_size, trainer.global_rank) == (2, rank)
    return trainer


@pytest.mark.parametrize("stage", ["train", "val", "test"])
def test_under_ddp_each_process_reads_its_own_streams_window_after_window(
    stage, text_file, monkeypatch
):
    batches, rows = {}, []
    for rank in (0, 1):
        dm = CharTextDataModule(str(text_file), seq_len=8, batch_size=3)
        dm.setup("fit")  # as train.py does, before the Trainer exists
        dm.trainer = ddp_trainer(rank, monkeypatch)
        dm.setup("fit")  # as the Trainer does, in each process
        loader = getattr(dm, f"{stage}_dataloader")()
        mode = RunningStage.TRAINING if stage == "train" else RunningStage.VALIDATING
        # Lightning keeps the loader as it is: no sampler of its own that would reorder windows
        assert dm.trainer._data_connector._prepare_dataloader(loader, True, mode) is loader
        batches[rank] = list(loader)
        inputs = torch.cat([x for x, _ in batches[rank]], dim=1)  # (3, columns): whole streams
        targets = torch.cat([y for _, y in batches[rank]], dim=1)
        assert torch.equal(inputs[:, 1:], targets[:, :-1])  # consecutive windows continue a row
        rows += torch.cat([inputs, targets[:, -1:]], dim=1).tolist()
    assert len(batches[0]) == len(batches[1])  # the processes step together
    assert [x.shape for x, _ in batches[0]] == [x.shape for x, _ in batches[1]]
    # the 6 streams of both processes are disjoint and, in rank order, cover the split
    split = TEXT[:189] if stage == "train" else TEXT[189:]
    assert "".join("".join(dm.vocab.decode(row)) for row in rows) == split[: len(split) // 6 * 6]


def test_a_single_process_trainer_changes_nothing(text_file):
    dm = CharTextDataModule(str(text_file), seq_len=8, batch_size=3)
    dm.setup("fit")
    alone = torch.cat([x for x, _ in dm.train_dataloader()], dim=1)
    dm.trainer = L.Trainer(accelerator="cpu", devices=1, logger=False)
    dm.setup("fit")
    assert dm.train_set.streams.shape == (3, 63)
    assert torch.equal(torch.cat([x for x, _ in dm.train_dataloader()], dim=1), alone)


def test_data_module_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.txt.*SEQMODELS_DATA_DIR"):
        CharTextDataModule("missing.txt", data_dir=str(tmp_path)).setup("fit")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt is empty"):
        CharTextDataModule("empty.txt", data_dir=str(tmp_path)).setup("fit")
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        CharTextDataModule(seq_len=0)


# ---- CharLM ------------------------------------------------------------------------------------


def char_lm(**kwargs):
    torch.manual_seed(0)
    return CharLM(**{"vocab_size": 10, "embedding_dim": 8, "hidden_size": 8, **kwargs}).eval()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "layernorm_lstm", "layernorm_gru"])
def test_reading_in_windows_with_the_carried_state_equals_reading_at_once(cell):
    model = char_lm(cell=cell, num_layers=2)
    tokens = torch.randint(0, 10, (3, 12))
    logits, state = model(tokens)
    assert logits.shape == (3, 12, 10)
    first, carried = model(tokens[:, :5])
    second, final = model(tokens[:, 5:], carried)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)
    torch.testing.assert_close(final, state)


def test_weight_tying_shares_the_embedding_and_needs_equal_sizes():
    model = char_lm(tie_weights=True)
    assert model.head.weight is model.embedding.weight
    with pytest.raises(ValueError, match="embedding_dim == hidden_size.*=4.*=8"):
        char_lm(embedding_dim=4, tie_weights=True)


def test_one_hot_input():
    model = char_lm(embedding_dim=None, impl="torch")
    assert model.embedding is None
    assert model(torch.randint(0, 10, (2, 4)))[0].shape == (2, 4, 10)


def test_generate_reads_the_prompt_once_then_one_step_per_new_token():
    model = char_lm()
    steps = []
    model.rnn.register_forward_hook(lambda module, args, output: steps.append(args[0].shape[1]))
    new = model.generate(torch.tensor([1, 2, 3, 4]), max_new_tokens=6)
    assert new.shape == (6,)
    assert steps == [4, 1, 1, 1, 1, 1]


def test_generate_is_reproducible_with_a_seeded_generator_and_greedy_with_top_k_1():
    model = char_lm(cell="gru")
    prompt = torch.tensor([[1, 2], [3, 4]])
    samples = [
        model.generate(prompt, 20, temperature=2.0, generator=torch.Generator().manual_seed(7))
        for _ in range(2)
    ]
    assert samples[0].shape == (2, 20)
    assert torch.equal(samples[0], samples[1])
    greedy = model.generate(prompt[:1], 3, top_k=1)
    tokens = prompt[:1]
    for _ in range(3):  # greedy by hand: argmax of the full recomputation
        tokens = torch.cat([tokens, model(tokens)[0][:, -1:].argmax(-1)], dim=1)
    assert greedy.tolist() == tokens[:, 2:].tolist()


def test_generate_restores_training_mode_and_rejects_bad_arguments():
    model = char_lm().train()
    model.generate(torch.tensor([1]), 2)
    assert model.training
    with pytest.raises(ValueError, match="temperature must be > 0"):
        model.generate(torch.tensor([1]), 2, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        model.generate(torch.tensor([1]), 2, top_k=0)
    with pytest.raises(ValueError, match=r"prompt_ids must be \(L,\) or \(N, L\) with L >= 1"):
        model.generate(torch.tensor([], dtype=torch.long), 2)


# ---- LanguageModelTask and scripts/generate.py -------------------------------------------------


def lm_task_and_data(text_file, **task_kwargs):
    dm = CharTextDataModule(str(text_file), seq_len=8, batch_size=3)
    dm.setup("fit")
    spec = {"_target_": "seqmodels.models.CharLM", "embedding_dim": 8, "hidden_size": 16}
    torch.manual_seed(0)
    task = LanguageModelTask(
        {**spec, **dm.describe().model_arguments()}, **dm.describe().task_arguments(), **task_kwargs
    )
    return task, dm


def test_state_is_carried_detached_across_windows_and_reset_each_epoch(
    text_file, tmp_path, quiet_trainer
):
    task, dm = lm_task_and_data(text_file)
    calls = []
    forward = task.model.forward

    def spy(tokens, state=None):
        calls.append(state)
        logits, new_state = forward(tokens, state)
        calls.append(new_state)
        return logits, new_state

    task.model.forward = spy
    quiet_trainer(max_epochs=2, limit_val_batches=0).fit(task, datamodule=dm)
    windows = len(dm.train_set)  # 62 columns of 3 streams -> 8 windows of up to 8 characters
    initial, final = calls[0::2], calls[1::2]
    assert len(initial) == 2 * windows
    assert initial[0] is None and initial[windows] is None  # a fresh state each epoch
    for k in [*range(1, windows), *range(windows + 1, 2 * windows)]:
        h, c = initial[k]
        assert h.grad_fn is None and c.grad_fn is None  # detached: backprop stops at the window
        torch.testing.assert_close(h, final[k - 1][0].detach())  # ... and carried over


def test_validation_metrics_are_means_over_characters_and_a_sample_is_logged(
    text_file, tmp_path, monkeypatch, quiet_trainer
):
    task, dm = lm_task_and_data(text_file, sample_prompt="to", sample_length=12)
    samples = []
    monkeypatch.setattr(task, "log_text", lambda tag, text: samples.append((tag, text)))
    fit = quiet_trainer(max_epochs=1, limit_train_batches=2)
    fit.fit(task, datamodule=dm)
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for inputs, targets in dm.val_dataloader():
            logits, state = task.model(inputs, state)
            total += torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), targets.flatten(), reduction="sum"
            )
            count += targets.numel()
    metrics = fit.callback_metrics
    torch.testing.assert_close(metrics["val/loss"], total / count)
    torch.testing.assert_close(metrics["val/bpc"], metrics["val/loss"] / math.log(2))
    torch.testing.assert_close(metrics["val/ppl"], metrics["val/loss"].exp())
    assert {"train/loss", "train/bpc"} <= set(metrics)
    assert [tag for tag, _ in samples] == ["val/sample"]  # once per validation, not at sanity check
    assert samples[0][1].startswith("```\nto") and len(samples[0][1]) == len("```\n\n```") + 14


def test_checkpoint_carries_the_vocabulary_and_generate_script_samples_from_it(
    text_file, tmp_path, capsys, quiet_trainer
):
    task, dm = lm_task_and_data(text_file, sample_length=0)
    fit = quiet_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    fit.fit(task, datamodule=dm)
    fit.save_checkpoint(tmp_path / "lm.ckpt")
    generate = runpy.run_path(str(SCRIPTS / "generate.py"))["main"]
    args = [str(tmp_path / "lm.ckpt"), "--prompt", "to be", "--length", "30", "--seed", "3"]
    text = generate(args)
    assert text.startswith("to be") and len(text) == 35 and set(text) <= set(TEXT)
    assert generate(args) == text  # same seed, same sample
    assert capsys.readouterr().out == f"{text}\n{text}\n"
    with pytest.raises(SystemExit):
        generate([str(tmp_path / "lm.ckpt"), "--prompt", "Z"])
    assert "token 'Z' is not in the vocabulary" in capsys.readouterr().err
