"""Seq2Seq: shapes, attention masks, decoding (greedy and beam) and input checks."""

import math
from typing import NamedTuple

import pytest
import torch
from torch import Tensor, nn

from seqmodels.models import Attention, Seq2Seq
from seqmodels.models.seq2seq import beam_search, greedy_search, upgrade_spec

PAD, SOS, EOS = 0, 1, 2
VOCAB = 9
NAMES_ERROR = "attention must be one of 'none', 'bahdanau', 'luong_dot', 'luong_general', "


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models


def tiny(**kwargs) -> Seq2Seq:
    torch.manual_seed(0)
    args = dict(embedding_dim=6, hidden_size=8, pad_id=PAD, sos_id=SOS, eos_id=EOS)
    return Seq2Seq(VOCAB, VOCAB + 2, **{**args, **kwargs}).eval()


def batch(lengths=(5, 2, 4), seed=1):
    """Source ids (N, S) padded with PAD after each length, and the lengths."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(lengths)
    src = torch.randint(3, VOCAB, (len(lengths), int(lengths.max())), generator=gen)
    src[torch.arange(src.size(1))[None, :] >= lengths[:, None]] = PAD
    return src, lengths


CONFIGS = [
    dict(attention="none"),
    dict(attention="bahdanau", cell="lstm", bidirectional=True),
    dict(attention="luong_dot", num_layers=2),
    dict(attention="luong_general", cell="lstm", bidirectional=True, num_layers=2),
    dict(attention="luong_dot", bidirectional=True, merge="sum"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_shapes_and_decoding_outputs(config):
    model = tiny(**config)
    src, lengths = batch()
    tgt = torch.randint(3, VOCAB + 2, (3, 7))
    assert model(src, lengths, tgt).shape == (3, 7, VOCAB + 2)
    for out in (model.generate(src, lengths, max_len=6), model.generate(src, lengths, 6, 3)):
        n, steps = out.tokens.shape
        assert n == 3 and steps <= 6
        assert out.lengths.shape == out.scores.shape == (3,)
        assert (out.scores <= 0).all()
        if config["attention"] == "none":
            assert out.attention is None
        else:
            assert out.attention.shape == (3, steps, src.size(1))
        # after each row's length only padding follows
        after = torch.arange(steps)[None, :] >= out.lengths[:, None]
        assert (out.tokens[after] == PAD).all()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_forward_matches_step_by_step_decoding(config):
    """The parallel teacher-forced pass equals feeding the decoder one token at a time."""
    model = tiny(**config)
    src, lengths = batch()
    tgt = torch.randint(3, VOCAB + 2, (3, 5))
    state, memory = model.encode(src, lengths)
    inputs = torch.cat([torch.full((3, 1), SOS), tgt[:, :-1]], dim=1)
    steps = []
    for token in inputs.unbind(1):
        logits, state, _ = model.decoder.step(token, state, memory)
        steps.append(logits)
    torch.testing.assert_close(model(src, lengths, tgt), torch.stack(steps, dim=1))


def test_greedy_scores_are_the_log_probabilities_of_its_tokens():
    model = tiny(attention="luong_general")
    src, lengths = batch()
    out = model.greedy_search(src, lengths, max_len=6)
    log_probs = model(src, lengths, out.tokens).log_softmax(-1)
    picked = log_probs.gather(2, out.tokens[..., None]).squeeze(2)  # (N, L)
    valid = torch.arange(out.tokens.size(1))[None, :] < out.lengths[:, None]
    torch.testing.assert_close(out.scores, (picked * valid).sum(1))


def test_source_padding_does_not_change_outputs():
    model = tiny(attention="bahdanau", bidirectional=True, cell="lstm")
    src, lengths = batch()
    padded = torch.cat([src, torch.full((3, 4), PAD)], dim=1)
    tgt = torch.randint(3, VOCAB + 2, (3, 4))
    torch.testing.assert_close(model(padded, lengths, tgt), model(src, lengths, tgt))


@pytest.mark.parametrize("attention", ["bahdanau", "luong_general"])
def test_attention_sums_to_one_over_valid_positions_and_is_zero_on_padding(attention):
    model = tiny(attention=attention)
    src, lengths = batch(lengths=(5, 2, 4))
    for out in (model.generate(src, lengths, 6), model.generate(src, lengths, 6, beam_size=3)):
        padding = torch.arange(5)[None, :] >= lengths[:, None]  # (N, S)
        generated = torch.arange(out.tokens.size(1))[None, :] < out.lengths[:, None]  # (N, L)
        weights = out.attention[generated]  # (tokens, S), rows of all generated tokens
        assert (out.attention.masked_select(padding[:, None, :]) == 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(weights.size(0)))
        assert (weights[:, 0] > 0).all()


@pytest.mark.parametrize("attention", ["bahdanau", "luong_dot", "luong_general"])
def test_attention_module_masks_padding_exactly(attention):
    attn = Attention(attention, query_size=4, memory_size=4)
    values = torch.randn(2, 6, 4)
    lengths = torch.tensor([6, 3])
    context, weights = attn(torch.randn(2, 5, 4), attn.memory(values, lengths))
    assert torch.equal(weights[1, :, 3:], torch.zeros(5, 3))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    torch.testing.assert_close(context[1], weights[1, :, :3] @ values[1, :3])


@pytest.mark.parametrize("config", CONFIGS[:3], ids=lambda c: c["attention"])
def test_beam_size_one_equals_greedy(config):
    model = tiny(**config)
    src, lengths = batch(lengths=(5, 2, 4, 1, 3))
    greedy = model.greedy_search(src, lengths, max_len=8)
    beam = model.beam_search(src, lengths, max_len=8, beam_size=1)
    assert torch.equal(beam.tokens, greedy.tokens)
    assert torch.equal(beam.lengths, greedy.lengths)
    torch.testing.assert_close(beam.scores, greedy.scores)
    if greedy.attention is not None:
        torch.testing.assert_close(beam.attention, greedy.attention)


def bigram_model(transitions: dict[int, dict[int, float]]) -> Seq2Seq:
    """A model whose next-token distribution depends only on the previous token.

    The decoder's RNN state is (numerically) the one-hot of the previous token, and the output
    layer holds log P(next | previous) in the column of the previous token.
    """
    vocab = 5
    model = Seq2Seq(vocab, vocab, embedding_dim=vocab, hidden_size=vocab, cell="rnn",
                    attention="none").eval()  # fmt: skip
    with torch.no_grad():
        for name, param in model.decoder.rnn.named_parameters():
            param.copy_(torch.eye(vocab) if "weight_ih" in name else torch.zeros_like(param))
        model.decoder.embedding.weight.copy_(20 * torch.eye(vocab))  # tanh(20) == 1 in float32
        log_p = torch.full((vocab, vocab), math.log(1e-6))  # (next, previous)
        for previous, nexts in transitions.items():
            for token, p in nexts.items():
                log_p[token, previous] = math.log(p)
        model.decoder.out.weight.copy_(log_p)
        model.decoder.out.bias.zero_()
    return model


def test_beam_search_finds_a_better_sequence_than_greedy():
    A, B = 3, 4
    # greedy takes A (0.6) then <eos> (0.4): 0.24; the best sequence is B <eos>: 0.4 * 0.9 = 0.36
    model = bigram_model(
        {SOS: {A: 0.6, B: 0.4}, A: {A: 0.3, B: 0.3, EOS: 0.4}, B: {A: 0.05, B: 0.05, EOS: 0.9}}
    )
    src, lengths = torch.tensor([[3, 4]]), torch.tensor([2])
    greedy = model.greedy_search(src, lengths, max_len=5)
    beam = model.beam_search(src, lengths, max_len=5, beam_size=2, length_penalty=0.0)
    assert greedy.tokens.tolist() == [[A, EOS]]
    assert beam.tokens.tolist() == [[B, EOS]]
    torch.testing.assert_close(greedy.scores, torch.tensor([math.log(0.24)]), atol=1e-4, rtol=0)
    torch.testing.assert_close(beam.scores, torch.tensor([math.log(0.36)]), atol=1e-4, rtol=0)


class Steps(NamedTuple):
    """A decoding state: how many steps each row has taken (follows the beam's reordering)."""

    taken: Tensor

    def index_select(self, index: Tensor) -> "Steps":
        return Steps(self.taken[index])


def test_searches_run_over_any_step_function():
    """Both searches need only ``step(tokens, state) -> (log_probs, state, weights)``."""
    A, B = 3, 4
    log_p = torch.full((5, 5), math.log(1e-6))  # (previous, next)
    for previous, nexts in {SOS: {A: 0.6, B: 0.4}, A: {A: 0.3, B: 0.3, EOS: 0.4},
                            B: {A: 0.05, B: 0.05, EOS: 0.9}}.items():  # fmt: skip
        for token, p in nexts.items():
            log_p[previous, token] = math.log(p)

    def step(tokens: Tensor, state: Steps) -> tuple[Tensor, Steps, None]:
        return log_p[tokens], Steps(state.taken + 1), None

    start = torch.tensor([SOS, SOS])
    greedy = greedy_search(step, Steps(torch.zeros(2)), start, EOS, PAD, max_len=5)
    beam = beam_search(step, Steps(torch.zeros(2)), start, EOS, PAD, 5, beam_size=2,
                       length_penalty=0.0)  # fmt: skip
    assert greedy.tokens.tolist() == [[A, EOS]] * 2 and greedy.attention is None
    assert beam.tokens.tolist() == [[B, EOS]] * 2 and beam.attention is None
    torch.testing.assert_close(greedy.scores, torch.full((2,), math.log(0.24)))
    torch.testing.assert_close(beam.scores, torch.full((2,), math.log(0.36)))


def test_overfits_a_tiny_batch_to_exact_match():
    """Reversing 8 short sequences: the model learns them all exactly."""
    torch.manual_seed(0)
    src, lengths = batch(lengths=(3, 4, 5, 6, 3, 4, 5, 6), seed=2)
    tgt = torch.full((8, 7), PAD)
    for i, n in enumerate(lengths.tolist()):
        tgt[i, :n] = src[i, :n].flip(0)
        tgt[i, n] = EOS
    model = Seq2Seq(VOCAB, VOCAB, embedding_dim=16, hidden_size=32, attention="luong_general")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(60):
        logits = model(src, lengths, tgt)
        loss = nn.functional.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    out = model.generate(src, lengths, max_len=8, beam_size=2)
    assert out.tokens[:, :7].tolist() == tgt.tolist()


def test_teacher_forcing_zero_feeds_back_greedy_predictions():
    model = tiny(attention="luong_general")
    src, lengths = batch()
    greedy = model.greedy_search(src, lengths, max_len=6)
    # without teacher forcing the target only sets the number of steps
    free = model(src, lengths, torch.full((3, 6), 5), teacher_forcing=0.0).argmax(-1)
    steps = greedy.tokens.size(1)
    valid = torch.arange(steps)[None, :] < greedy.lengths[:, None]  # up to each <eos>
    assert torch.equal(free[:, :steps][valid], greedy.tokens[valid])


def test_bidirectional_bridge_maps_both_directions_to_the_decoder_state():
    model = tiny(bidirectional=True, cell="lstm", num_layers=2)
    src, lengths = batch()
    (h, c), _ = model.encode(src, lengths)
    assert h.shape == c.shape == (2, 3, 8)


@pytest.mark.parametrize(
    "src, lengths, message",
    [
        (torch.tensor([[3, 4], [5, 0]]), torch.tensor([2, 0]), "empty source"),
        (torch.zeros(2, 0, dtype=torch.long), torch.tensor([0, 0]), "empty source"),
        (
            torch.tensor([[3, 4], [5, 9]]),
            torch.tensor([2, 2]),
            r"src token ids must lie in \[0, 9\)",
        ),
        (torch.tensor([[3, -1]]), torch.tensor([2]), r"src token ids must lie in \[0, 9\)"),
        (torch.tensor([[3, 4], [5, 6]]), torch.tensor([2, 2, 2]), r"src_lengths must have shape"),
        (torch.tensor([[3, 4], [5, 6]]), torch.tensor([2, 3]), "exceeds src length 2"),
        (torch.tensor([3, 4]), torch.tensor([2]), r"src must have shape \(N, S\)"),
    ],
)
def test_bad_sources_raise_clear_errors(src, lengths, message):
    model = tiny()
    with pytest.raises(ValueError, match=message):
        model(src, lengths, torch.tensor([[3]] * src.size(0)) if src.dim() == 2 else src[None])
    with pytest.raises(ValueError, match=message):
        model.generate(src, lengths, max_len=3)


def test_bad_targets_and_options_raise_clear_errors():
    model = tiny()
    src, lengths = batch()
    with pytest.raises(ValueError, match=r"tgt token ids must lie in \[0, 11\)"):
        model(src, lengths, torch.full((3, 2), 11))
    with pytest.raises(ValueError, match=r"tgt must have shape \(N, T\) with N = 3"):
        model(src, lengths, torch.full((2, 2), 3))
    with pytest.raises(ValueError, match="beam_size must lie in"):
        model.generate(src, lengths, max_len=3, beam_size=0)
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        model.generate(src, lengths, max_len=0)
    with pytest.raises(ValueError, match=NAMES_ERROR + "got 'luong'"):
        tiny(attention="luong")
    with pytest.raises(
        ValueError,
        match="attention must be one of 'bahdanau', 'luong_dot', 'luong_general', got 'none'",
    ):
        Attention("none", query_size=4, memory_size=4)
    with pytest.raises(
        ValueError,
        match=r"luong_dot attention needs decoder hidden_size == encoder output size, got 8 and 16 \(use attention='luong_general'",
    ):
        tiny(attention="luong_dot", bidirectional=True, merge="concat")


# ---- older checkpoints' model specs -----------------------------------------------------------


@pytest.mark.parametrize("target", ["seqmodels.seq2seq.Seq2Seq", "seqmodels.Seq2Seq"])
@pytest.mark.parametrize(
    "old, new",
    [
        ({"attention": "luong", "score": "general"}, "luong_general"),
        ({"attention": "luong", "score": "dot"}, "luong_dot"),
        ({"attention": "bahdanau", "score": "dot"}, "bahdanau"),
        ({"attention": "none", "score": "general"}, "none"),
        ({"attention": "bahdanau"}, "bahdanau"),
        ({}, "luong_general"),  # the old defaults: attention="luong", score="general"
    ],
)
def test_an_old_model_spec_builds_the_same_model_as_the_new_one(target, old, new):
    from seqmodels.tasks.base import build_model

    sizes = {"src_vocab_size": 7, "tgt_vocab_size": 9, "embedding_dim": 4, "hidden_size": 6}
    torch.manual_seed(0)
    legacy = build_model({"_target_": target, **sizes, **old})
    torch.manual_seed(0)
    current = build_model({"_target_": "seqmodels.models.Seq2Seq", **sizes, "attention": new})
    assert type(legacy) is Seq2Seq
    assert list(legacy.state_dict()) == list(current.state_dict())
    for name, value in legacy.state_dict().items():
        assert torch.equal(value, current.state_dict()[name]), name


@pytest.mark.parametrize(
    "old", [{"attention": "luong", "score": "bahdanau"}, {"attention": "concat", "score": "dot"}]
)
def test_an_old_attention_pair_without_equivalent_says_what_changed(old):
    message = (
        rf"model spec 'seqmodels.seq2seq.Seq2Seq' with attention='{old['attention']}', "
        rf"score='{old['score']}': the options attention and score were merged into one, "
        r"attention: none \| bahdanau \| luong_dot \| luong_general \(old attention='luong' "
        r"with score='dot' or 'general' is 'luong_dot' or 'luong_general'\), and this pair has no "
        "equivalent"
    )
    with pytest.raises(ValueError, match=message):
        upgrade_spec({"_target_": "seqmodels.seq2seq.Seq2Seq", **old})


def test_other_model_specs_are_left_as_they_are():
    spec = {"_target_": "seqmodels.models.Seq2Seq", "attention": "bahdanau", "score": "dot"}
    assert upgrade_spec(spec) == spec  # a new target keeps its arguments (score fails there)
    assert upgrade_spec({"_target_": "torch.nn.Linear"}) == {"_target_": "torch.nn.Linear"}


# ---- the Lightning task ------------------------------------------------------------------------


def copy_task_and_data(**task_kwargs):
    from seqmodels.tasks.seq2seq import Seq2SeqTask, SyntheticPairsDataModule

    torch.manual_seed(0)
    dm = SyntheticPairsDataModule("copy", num_pairs=60, min_len=2, max_len=4, vocab_size=5,
                                  batch_size=16)  # fmt: skip
    dm.setup("fit")
    spec = {"_target_": "seqmodels.models.Seq2Seq", "embedding_dim": 8, "hidden_size": 16,
            "attention": "bahdanau", **dm.describe().model_arguments()}  # fmt: skip
    return Seq2SeqTask(spec, **dm.describe().task_arguments(), **task_kwargs), dm


def test_task_logs_metrics_figures_and_samples_and_reloads(tmp_path, quiet_trainer):
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from seqmodels.tasks.seq2seq import Seq2SeqTask

    task, dm = copy_task_and_data(beam_size=2, max_len=6, num_samples=2, label_smoothing=0.1)
    logger = TensorBoardLogger(tmp_path, name="", version="")
    trainer = quiet_trainer(max_epochs=2, logger=logger, log_every_n_steps=1)
    trainer.fit(task, datamodule=dm)
    assert {"val/loss", "val/acc", "val/exact_match", "val/bleu"} <= trainer.callback_metrics.keys()
    (results,) = trainer.test(task, datamodule=dm, verbose=False)
    assert {"test/loss", "test/acc", "test/exact_match", "test/bleu"} <= results.keys()
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "tensors": 0}).Reload()
    assert {"val/attention", "test/attention"} <= set(events.Tags()["images"])
    assert any(tag.startswith("test/samples") for tag in events.Tags()["tensors"])

    other_data = type(dm)("copy", num_pairs=60, min_len=2, max_len=4, vocab_size=4)
    with pytest.raises(
        ValueError, match="data module's src_vocab, tgt_vocab differ from the task's"
    ):
        other_data.describe().check_task(task.hparams)

    trainer.save_checkpoint(tmp_path / "copy.ckpt")
    loaded = Seq2SeqTask.load_from_checkpoint(tmp_path / "copy.ckpt")
    inputs = ["abc", "dd", "eabd"]
    assert loaded.translate(inputs) == task.translate(inputs)
    assert all(isinstance(output, str) for output in loaded.translate(inputs, beam_size=1))

    # a checkpoint written before the seq2seq head moved: old target and attention names
    saved = torch.load(tmp_path / "copy.ckpt", weights_only=True)
    saved["hyper_parameters"]["model"].update(
        {"_target_": "seqmodels.seq2seq.Seq2Seq", "attention": "bahdanau", "score": "general"}
    )
    torch.save(saved, tmp_path / "old.ckpt")
    assert Seq2SeqTask.load_from_checkpoint(tmp_path / "old.ckpt").translate(inputs) == (
        task.translate(inputs)
    )


def test_task_checks_its_arguments():
    task, dm = copy_task_and_data()
    with pytest.raises(ValueError, match="cannot translate a text without any token"):
        task.translate(["abc", ""])
    spec = task.hparams.model
    with pytest.raises(ValueError, match="tgt_vocab has 5 tokens but the model expects"):
        type(task)(spec, dm.describe().src_vocab, dm.describe().tgt_vocab[:5])
    with pytest.raises(ValueError, match="teacher_forcing must lie in"):
        type(task)(spec, **dm.describe().task_arguments(), teacher_forcing=1.5)
