"""What real programs do with recurrent layers, done with ours, with torch.nn's twin as the oracle.

- pytorch/examples ``word_language_model``: a model holding an LSTM / GRU, trained with truncated
  BPTT and clipped SGD, saved whole with ``torch.save(model, f)`` and reloaded with a plain
  ``torch.load(f)``, then ``model.rnn.flatten_parameters()``; ``generate.py``'s sampling loop;
  its ONNX export (35 steps) opened by onnxruntime from the file's path.
- AWD-LSTM's ``WeightDrop``: deletes ``weight_hh_l0`` from the layer's ``_parameters`` and sets a
  dropped plain tensor in its place before every forward.
- ``torch.nn.utils.parametrizations.weight_norm`` / ``spectral_norm`` and
  ``parametrize.register_parametrization`` on ``weight_hh_l0``; code that picks parameters by
  torch's names (initialisation, optimizer groups) or recurrent layers by ``isinstance``.
- pytorch/examples ``time_sequence_prediction``: two LSTMCells in float64 trained with LBFGS.
"""

from __future__ import annotations

import io
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from rnn_twins import IMPLS, assert_same, make_twin
from torch import nn
from torch.nn.utils import parametrizations, parametrize

import seqmodels

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64
TIGHT = {"atol": 1e-10, "rtol": 1e-10}


# --------------------------------------------------------------------------------------------
# word_language_model (model.py, main.py, generate.py)


class RNNModel(nn.Module):
    """word_language_model's model.py: encoder, a recurrent module, decoder (weights tied)."""

    def __init__(self, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.5, layers=nn):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = getattr(layers, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.decoder.weight = self.encoder.weight  # tie_weights (needs nhid == ninp)
        self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        if self.rnn_type == "LSTM":
            return (
                weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid),
            )
        return weight.new_zeros(self.nlayers, bsz, self.nhid)


def repackage_hidden(h):
    return h.detach() if isinstance(h, torch.Tensor) else tuple(repackage_hidden(v) for v in h)


class OurLayers:
    """``layers.LSTM(...)`` builds ``seqmodels.LSTM(..., impl=impl)``."""

    def __init__(self, impl):
        self.impl = impl

    def __getattr__(self, name):
        return lambda *args, **kwargs: getattr(seqmodels, name)(*args, impl=self.impl, **kwargs)


def word_lm_pair(rnn_type, impl):
    torch.manual_seed(0)
    reference = RNNModel(rnn_type, 50, 16, 16, 2, dropout=0.2)
    ours = RNNModel(rnn_type, 50, 16, 16, 2, dropout=0.2, layers=OurLayers(impl))
    ours.load_state_dict(reference.state_dict(), strict=True)
    return reference, ours


def train_epoch(model, data, seed, bptt=7, lr=20.0, clip=0.25):
    """main.py's train(): truncated BPTT windows, clip_grad_norm_, plain SGD on p.data."""
    torch.manual_seed(seed)
    model.train()
    hidden = model.init_hidden(data.size(1))
    losses = []
    for i in range(0, data.size(0) - 1, bptt):
        seq_len = min(bptt, len(data) - 1 - i)
        source, targets = data[i : i + seq_len], data[i + 1 : i + 1 + seq_len].reshape(-1)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(source, hidden)
        loss = F.nll_loss(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses


def evaluate(model, data, bptt=7):
    model.eval()
    hidden = model.init_hidden(data.size(1))
    outputs = []
    with torch.no_grad():
        for i in range(0, data.size(0) - 1, bptt):
            output, hidden = model(data[i : i + bptt], hidden)
            outputs.append(output)
    return torch.cat(outputs)


def client_safe_globals():
    """What a client lists for a plain ``torch.load`` of its whole model: its own class and the
    torch.nn modules it uses (torch.nn's modules are not safe globals by default)."""
    return [RNNModel, nn.Embedding, nn.Dropout, nn.Linear]


@pytest.mark.parametrize("rnn_type", ["LSTM", "GRU"])
@pytest.mark.parametrize("impl", IMPLS)
def test_word_language_model_train_save_load(rnn_type, impl, tmp_path):
    reference, ours = word_lm_pair(rnn_type, impl)
    assert "rnn.weight_hh_l0" in dict(ours.named_parameters())
    data = torch.randint(0, 50, (36, 4), generator=torch.Generator().manual_seed(1))
    expected_losses = train_epoch(reference, data, seed=3)
    losses = train_epoch(ours, data, seed=3)
    assert losses == pytest.approx(expected_losses, rel=1e-5, abs=1e-6)
    before = evaluate(ours, data)
    torch.testing.assert_close(before, evaluate(reference, data), atol=1e-5, rtol=1e-5)

    # main.py: torch.save(model, f) ... with open(args.save, 'rb') as f: model = torch.load(f)
    reference_path, path = tmp_path / "reference.pt", tmp_path / "model.pt"
    with open(reference_path, "wb") as f:
        torch.save(reference, f)
    with open(path, "wb") as f:
        torch.save(ours, f)
    try:
        with (
            open(reference_path, "rb") as f,
            torch.serialization.safe_globals([*client_safe_globals(), getattr(nn, rnn_type)]),
        ):
            torch.load(f)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"a plain torch.load of the torch.nn model fails too: {error}"[:300])
    with open(path, "rb") as f, torch.serialization.safe_globals(client_safe_globals()):
        loaded = torch.load(f)  # our classes need no listing: seqmodels registers them
    loaded.rnn.flatten_parameters()
    assert isinstance(loaded.rnn, type(ours.rnn))
    torch.testing.assert_close(evaluate(loaded, data), before, atol=0, rtol=0)


@pytest.mark.parametrize("impl", IMPLS)
def test_saved_layer_holds_only_public_globals(impl):
    """The pickle of a whole layer names the globals torch.nn.LSTM's pickle names (torch's
    tensor rebuilders, containers) and public classes of ours, nothing else: no private hook
    functions whose names must then stay put forever, no torch ``_WrappedHook``; and nothing
    torch's weights-only loader refuses once seqmodels is imported."""
    layer = seqmodels.LSTM(3, 4, 2, impl=impl)
    buffer, reference_buffer = io.BytesIO(), io.BytesIO()
    torch.save(layer, buffer)
    torch.save(nn.LSTM(3, 4, 2), reference_buffer)
    buffer.seek(0)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(buffer) == []
    buffer.seek(0)
    reference_buffer.seek(0)
    names = pickled_globals(buffer)
    torch_names = set(pickled_globals(reference_buffer)) - {"torch.nn.modules.rnn.LSTM"}
    extra = [n for n in names if n not in torch_names]
    assert extra, names
    for name in extra:
        module, _, attribute = name.rpartition(".")
        assert module.split(".")[0] == "seqmodels", f"{name} in the pickle (torch.nn's has not)"
        assert attribute in seqmodels.__all__ and not attribute.startswith("_"), (
            f"{name} is not public API of seqmodels"
        )


def pickled_globals(buffer):
    """Every ``module.name`` global that unpickling ``buffer`` (a torch.save file) looks up."""
    import pickle

    found = []

    class Recording(pickle.Unpickler):
        def find_class(self, module, name):
            found.append(f"{module}.{name}")
            return super().find_class(module, name)

    class RecordingModule:
        Unpickler = Recording
        load = pickle.load
        __name__ = "pickle"

    torch.load(buffer, weights_only=False, pickle_module=RecordingModule)
    return sorted(set(found))


@pytest.mark.parametrize("impl", IMPLS)
def test_word_language_model_generate(impl):
    """generate.py: sample words one at a time feeding the hidden state back (eval mode)."""
    reference, ours = word_lm_pair("LSTM", impl)

    def generate(model, words=30, temperature=1.0):
        model.eval()
        torch.manual_seed(5)
        hidden = model.init_hidden(1)
        input = torch.randint(50, (1, 1), dtype=torch.long)
        chosen = []
        with torch.no_grad():
            for _ in range(words):
                output, hidden = model(input, hidden)
                word_weights = output.squeeze().div(temperature).exp().cpu()
                word_idx = torch.multinomial(word_weights, 1)[0]
                input.fill_(word_idx)
                chosen.append(word_idx.item())
        return chosen

    assert generate(ours) == generate(reference)


# --------------------------------------------------------------------------------------------
# ONNX (main.py --onnx-export): 35 steps, opened from the path


def onnx_node_count(graph):
    count = 0
    for node in graph.node:
        count += 1
        for attribute in node.attribute:
            if attribute.g is not None and attribute.g.node:
                count += onnx_node_count(attribute.g)
            for sub in attribute.graphs:
                count += onnx_node_count(sub)
    return count


class Recurrent3(nn.Module):
    """The layer with its state as separate inputs and outputs (ONNX takes no tuples)."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x, h, c):
        output, (h, c) = self.rnn(x, (h, c))
        return output, h, c


def export_legacy(model, path, args):
    """torch.onnx's TorchScript exporter with a dynamic sequence length: the route on which
    torch.nn.LSTM exports to a dynamic-length graph on this torch (the dynamo exporter fixes the
    length of torch.nn's LSTM)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=["x", "h", "c"],
            output_names=["output", "h_n", "c_n"],
            dynamo=False,
            dynamic_axes={"x": {0: "steps"}, "output": {0: "steps"}},
        )


def run_onnx(path, x, h, c):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))
    results = session.run(None, {"x": x.numpy(), "h": h.numpy(), "c": c.numpy()})
    return [torch.from_numpy(r) for r in results]


def test_onnx_export_dynamic_length(tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    reference = nn.LSTM(10, 16, 2).eval()
    ours = make_twin(reference).eval()  # the default impl, as a client builds it
    h, c = torch.zeros(2, 1, 16), torch.zeros(2, 1, 16)
    x35 = torch.randn(35, 1, 10)
    reference_path, path = tmp_path / "reference.onnx", tmp_path / "model.onnx"
    try:
        export_legacy(Recurrent3(reference), reference_path, (x35, h, c))
        run_onnx(reference_path, torch.randn(50, 1, 10), h, c)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"torch.nn.LSTM's export does not give a dynamic-length graph: {error}"[:300])
    export_legacy(Recurrent3(ours), path, (x35, h, c))
    for steps in (35, 50, 7):
        x = torch.randn(steps, 1, 10)
        h0, c0 = torch.randn(2, 1, 16), torch.randn(2, 1, 16)
        got = run_onnx(path, x, h0, c0)  # opened from its path, external data or not
        with torch.no_grad():
            expected = Recurrent3(ours)(x, h0, c0)
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)
    ours_nodes = onnx_node_count(onnx.load(str(path)).graph)
    torch_nodes = onnx_node_count(onnx.load(str(reference_path)).graph)
    assert ours_nodes <= 3 * torch_nodes, f"{ours_nodes} nodes, torch.nn's export {torch_nodes}"


def test_onnx_export_word_language_model_default_exporter(tmp_path):
    """main.py's export_onnx() verbatim (the default exporter of this torch, batch 1, 35 steps):
    the file opens in onnxruntime from its path and gives the model's outputs."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnxruntime

    _, model = word_lm_pair("LSTM", "auto")
    model.eval()
    path = tmp_path / "model.onnx"
    dummy_input = torch.LongTensor(35 * 1).zero_().view(-1, 1)
    hidden = model.init_hidden(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy_input, hidden), str(path))
    session = onnxruntime.InferenceSession(str(path))
    tokens = torch.randint(50, (35, 1))
    names = [i.name for i in session.get_inputs()]
    feeds = dict(zip(names, [tokens.numpy(), hidden[0].numpy(), hidden[1].numpy()], strict=True))
    results = session.run(None, feeds)
    with torch.no_grad():
        expected, (h, c) = model(tokens, hidden)
    for got, want in zip(results, (expected, h, c), strict=True):
        torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# AWD-LSTM's WeightDrop


class WeightDrop(nn.Module):
    """AWD-LSTM's weight drop (salesforce/awd-lstm-lm, weight_drop.py), as clients write it:
    the named raw weight becomes ``<name>_raw``; before each forward a dropped copy is set as a
    plain tensor under the original name, which the layer's forward must read."""

    def __init__(self, module, weights, dropout=0.5):
        super().__init__()
        self.module, self.weights, self.dropout = module, weights, dropout
        for name in weights:
            w = getattr(module, name)
            del module._parameters[name]
            module.register_parameter(name + "_raw", nn.Parameter(w.data))
        self._setweights()

    def _setweights(self):
        for name in self.weights:
            raw = getattr(self.module, name + "_raw")
            setattr(self.module, name, F.dropout(raw, p=self.dropout, training=self.training))

    def forward(self, *args):
        self._setweights()
        return self.module.forward(*args)


@pytest.mark.parametrize("impl", IMPLS)
def test_weight_drop_wrapper_changes_what_the_forward_reads(impl):
    torch.manual_seed(0)
    reference = nn.LSTM(4, 6, 1).double()
    plain = make_twin(reference, impl)
    ours = WeightDrop(make_twin(reference, impl), ["weight_hh_l0"], dropout=0.5)
    try:
        wrapped_reference = WeightDrop(reference, ["weight_hh_l0"], dropout=0.5)
        torch.manual_seed(1)
        wrapped_reference(torch.randn(5, 2, 4, dtype=F64))
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"WeightDrop fails on torch.nn.LSTM too: {error}"[:300])
    names = dict(ours.named_parameters())
    assert "module.weight_hh_l0_raw" in names and "module.weight_hh_l0" not in names
    x = torch.randn(5, 2, 4, dtype=F64, requires_grad=True)
    for training in (True, False):
        ours.train(training)
        wrapped_reference.train(training)
        with torch.random.fork_rng():
            torch.manual_seed(2)
            expected = wrapped_reference(x)
        with torch.random.fork_rng():
            torch.manual_seed(2)
            got = ours(x)
        assert_same(got, expected, F64)
        if training:  # half the recurrent weights are dropped: not the plain layer's output
            assert not torch.allclose(got[0], plain(x)[0])
            cotangent = torch.randn_like(got[0])
            (g_ours,) = torch.autograd.grad(got[0], ours.module.weight_hh_l0_raw, cotangent)
            (g_ref,) = torch.autograd.grad(expected[0], reference.weight_hh_l0_raw, cotangent)
            assert_same(g_ours, g_ref, F64)
        else:  # eval: the raw weight itself
            assert_same(got, plain(x), F64)


# --------------------------------------------------------------------------------------------
# parametrizations on the torch-named weights


class LowerTriangular(nn.Module):
    """A parametrization of a user's own: the weight's upper triangle is held at zero."""

    def forward(self, w):
        return w.tril()


PARAMETRIZATIONS = {
    "weight_norm": lambda m: parametrizations.weight_norm(m, "weight_hh_l0"),
    "spectral_norm": lambda m: parametrizations.spectral_norm(m, "weight_hh_l0"),
    "lower_triangular": lambda m: parametrize.register_parametrization(
        m, "weight_hh_l0", LowerTriangular()
    ),
}


@pytest.mark.parametrize("kind", list(PARAMETRIZATIONS))
@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("impl", IMPLS)
def test_parametrized_recurrent_weight(impl, name, kind):
    """A parametrization on ``weight_hh_l0``: the forward reads the parametrized weight (as
    torch.nn's under the same parametrization), gradients reach ``original`` (or
    ``original0/1``), the state dicts move between the two with strict=True."""
    torch.manual_seed(0)
    reference = getattr(nn, name)(4, 6, 2).double()
    ours = make_twin(reference, impl)
    for module in (reference, ours):
        with torch.random.fork_rng():
            torch.manual_seed(3)  # spectral_norm draws its power-iteration vectors
            PARAMETRIZATIONS[kind](module)
    assert parametrize.is_parametrized(ours, "weight_hh_l0")
    originals = {k for k, _ in ours.named_parameters() if k.startswith("parametrizations.")}
    assert originals == {
        k for k, _ in reference.named_parameters() if k.startswith("parametrizations.")
    }
    x = torch.randn(5, 2, 4, dtype=F64)
    for training in (True, False):
        reference.train(training)
        ours.train(training)
        got = ours(x)
        if kind == "spectral_norm" and training:
            # each read of the weight runs a power iteration in training, and torch.nn reads
            # it several times per forward: compare with torch.nn in eval mode given our
            # updated vectors, i.e. that the forward read the parametrized weight
            reference.load_state_dict(ours.state_dict(), strict=True)
            reference.eval()
        assert_same(got, reference(x), F64)
    with torch.no_grad():  # a change of the original changes the output
        for module in (reference, ours):
            original = module.parametrizations.weight_hh_l0
            first = original.original if hasattr(original, "original") else original.original0
            first.mul_(0.5 if kind != "weight_norm" else 2.0)
            if kind == "weight_norm":
                original.original1.mul_(0.5)
    ours.eval(), reference.eval()
    out = ours(x)
    assert_same(out, reference(x), F64)
    cotangent = torch.randn_like(out[0])
    reference_params = dict(reference.named_parameters())
    grads = torch.autograd.grad(
        out[0], [dict(ours.named_parameters())[k] for k in sorted(originals)], cotangent
    )
    expected_grads = torch.autograd.grad(
        reference(x)[0], [reference_params[k] for k in sorted(originals)], cotangent
    )
    assert_same(grads, expected_grads, F64)
    fresh = make_twin(getattr(nn, name)(4, 6, 2).double(), impl)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        PARAMETRIZATIONS[kind](fresh)
    fresh.load_state_dict(reference.state_dict(), strict=True)
    fresh.eval()
    assert_same(fresh(x), reference(x), F64)


# --------------------------------------------------------------------------------------------
# code that finds recurrent layers by type and parameters by torch's name


@pytest.mark.parametrize("impl", IMPLS)
def test_init_by_name_and_isinstance_of_the_seqmodels_classes(impl):
    """seqmodels' layers are not subclasses of torch.nn's (dynamo refuses to compile any
    instance of nn.RNN/LSTM/GRU, and ours compile with fullgraph=True), so an initialisation loop
    names both; weights picked by name then land where the forward reads them."""
    for name in ("RNN", "LSTM", "GRU"):
        layer = getattr(seqmodels, name)(3, 4, impl=impl)
        assert isinstance(layer, seqmodels.Recurrent)
        assert not isinstance(layer, nn.RNNBase)

    def initialise(model):
        torch.manual_seed(4)
        for module in model.modules():
            if isinstance(module, (nn.LSTM, nn.GRU, seqmodels.LSTM, seqmodels.GRU)):
                for param_name, param in module.named_parameters():
                    if "weight_hh" in param_name:
                        nn.init.orthogonal_(param)
                    elif "weight_ih" in param_name:
                        nn.init.xavier_uniform_(param)
                    elif "bias" in param_name:
                        nn.init.zeros_(param)
                        if isinstance(module, (nn.LSTM, seqmodels.LSTM)):  # forget-gate bias 1
                            param.data[module.hidden_size : 2 * module.hidden_size] = 1

    reference, ours = word_lm_pair("LSTM", impl)
    initialise(reference)
    initialise(ours)
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[key], value, atol=0, rtol=0, msg=key)
    data = torch.randint(0, 50, (8, 2))
    torch.testing.assert_close(evaluate(ours, data), evaluate(reference, data))

    def groups(model):
        decay = [n for n, p in model.named_parameters() if "bias" not in n]
        no_decay = [n for n, p in model.named_parameters() if "bias" in n]
        return decay, no_decay

    assert groups(ours) == groups(reference)


# --------------------------------------------------------------------------------------------
# time_sequence_prediction: LSTMCell, float64, LBFGS


class Sequence(nn.Module):
    def __init__(self, cells=nn):
        super().__init__()
        self.lstm1 = cells.LSTMCell(1, 51)
        self.lstm2 = cells.LSTMCell(51, 51)
        self.linear = nn.Linear(51, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t = torch.zeros(input.size(0), 51, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), 51, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def test_time_sequence_prediction_lbfgs():
    """Sine waves, two LSTMCells in float64, LBFGS: losses and predictions equal torch.nn's
    to 1e-10 over a few steps."""
    generator = torch.Generator().manual_seed(2)
    T, L, N = 20, 40, 6
    x = torch.arange(L) + torch.randint(-4 * T, 4 * T, (N, 1), generator=generator)
    data = torch.sin(x / T).double()
    input, target = data[1:, :-1], data[1:, 1:]
    test_input, test_target = data[:1, :-1], data[:1, 1:]

    def run(cells):
        torch.manual_seed(0)
        seq = Sequence(cells).double()
        if cells is not nn:
            seq.load_state_dict(reference_state, strict=True)
        criterion = nn.MSELoss()
        optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8, max_iter=5)
        losses = []
        for _ in range(3):

            def closure():
                optimizer.zero_grad()
                loss = criterion(seq(input), target)
                loss.backward()
                return loss

            losses.append(optimizer.step(closure).item())
        with torch.no_grad():
            prediction = seq(test_input, future=10)
            losses.append(criterion(prediction[:, :-10], test_target).item())
        return losses, prediction, seq.state_dict()

    torch.manual_seed(0)
    reference_state = Sequence().double().state_dict()
    expected_losses, expected_prediction, expected_state = run(nn)
    losses, prediction, state = run(seqmodels)
    assert all(math.isfinite(v) for v in losses)
    assert losses == pytest.approx(expected_losses, rel=1e-10, abs=1e-10)
    torch.testing.assert_close(prediction, expected_prediction, **TIGHT)
    for key, value in expected_state.items():
        torch.testing.assert_close(state[key], value, **TIGHT, msg=key)
