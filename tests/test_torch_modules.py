"""PyTorch's own module tests, run on our twins: torch's ModuleInfo samples and test_modules' checks.

For each of ``torch.nn.RNN``, ``LSTM``, ``GRU``, ``RNNCell``, ``LSTMCell`` and ``GRUCell`` the
samples come from the installed wheel's ``torch.testing._internal.common_modules`` (its
``module_inputs_func`` with packed-sequence samples on, and its ``module_error_inputs_func``).
Each sample runs through the torch module and through ``seqmodels.<same name>`` built with the
same arguments and loaded with the torch module's state dict; outputs, states and gradients must
agree, and every error sample must raise the exception type torch raises. Then the generic checks
of PyTorch's ``test/test_modules.py`` that apply on CPU (forward with the unbatched reference,
gradcheck / gradgradcheck with batched gradients, pickling, ``repr``, ``to``/``float``/``double``,
memory format, non-contiguous inputs, factory kwargs, meta-device construction, train / eval)
run on our twins, written as our own code. A check that ``torch.nn`` itself fails on the
installed torch is skipped with the reason.

The layers are tested with ``impl="auto"`` (torch's fused kernels where they serve) and
``impl="cells"`` (seqmodels' per-step cells on the same parameters).
"""

from __future__ import annotations

import copy
import io
import pickle
from operator import methodcaller

import pytest
import torch
from rnn_twins import (
    DTYPES,
    IMPLS,
    LAYER_NAMES,
    MODULE_INFOS,
    TWIN_NAMES,
    ModuleErrorEnum,
    assert_same,
    assert_same_grads,
    build_twin,
    check_like_torch,
    error_inputs,
    expect_same_outcome,
    flat_tensors,
    forward_and_grads,
    fresh_leaves,
    impl_params,
    iter_samples,
    layer_impl,
    make_pair,
    map_tensors,
    module_inputs,
    reference_or_skip,
    sample_ids,
)
from torch import nn
from torch.nn.utils.rnn import PackedSequence

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DTYPE_IDS = {torch.float32: "float32", torch.float64: "float64"}


def sample_params(names=TWIN_NAMES, dtypes=DTYPES, select=None):
    """``(name, impl, dtype, index)`` for every torch sample of ``names`` (``select(sample)``
    keeps a subset), every impl for a layer."""
    params = []
    for name in names:
        samples = module_inputs(name, torch.float64)
        ids = sample_ids(name)
        impls = IMPLS if name in LAYER_NAMES else (None,)
        for impl in impls:
            for dtype in dtypes:
                for index, sample in enumerate(samples):
                    if sample.forward_input is None or (select and not select(name, sample)):
                        continue
                    label = "-".join(
                        p for p in (name, impl, DTYPE_IDS[dtype], ids[index]) if p is not None
                    )
                    params.append(pytest.param(name, impl, dtype, index, id=label))
    return params


def get_sample(name, dtype, index, requires_grad=True, training=True):
    return module_inputs(name, dtype, requires_grad=requires_grad, training=training)[index]


def pair_for(sample, name, impl, dtype, training=True):
    ctor = sample.constructor_input
    return make_pair(name, ctor.args, ctor.kwargs, impl, dtype, training)


# --------------------------------------------------------------------------------------------
# every sample: outputs, states and gradients equal torch.nn's


@pytest.mark.parametrize(("name", "impl", "dtype", "index"), sample_params())
def test_sample_matches_torch(name, impl, dtype, index):
    sample = get_sample(name, dtype, index)
    reference, ours = pair_for(sample, name, impl, dtype)
    args = sample.forward_input.args
    expected, expected_grads = reference_or_skip(
        forward_and_grads, reference, fresh_leaves(args), what=f"sample {index}"
    )
    got, got_grads = forward_and_grads(ours, fresh_leaves(args))
    assert_same(got, expected, dtype)
    assert_same_grads(got_grads, expected_grads, dtype)


# --------------------------------------------------------------------------------------------
# test_modules.test_forward: the unbatched reference, then .float() / .double()


@pytest.mark.parametrize(
    ("dtype", "training"),
    [(torch.float32, True), (torch.float64, False)],
    ids=["float32-train", "float64-eval"],
)
@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_forward_reference_and_dtype_methods(name, impl, dtype, training):
    to_dtype = {torch.float32: methodcaller("float"), torch.float64: methodcaller("double")}

    def check(build):
        for index, sample in iter_samples(name, dtype, requires_grad=False, training=training):
            ctor = sample.constructor_input
            module = build(*ctor.args, **ctor.kwargs)
            module.to("cpu").to(dtype)
            module.train(training)
            args = sample.forward_input.args
            outputs = module(*args)
            # (the reference unsqueezes an unbatched input; the packed samples have none)
            if sample.reference_fn is not None and not isinstance(args[0], PackedSequence):
                reference_outputs = sample.reference_fn(module, *args)
                assert_same(outputs, reference_outputs, dtype, f"sample {index} vs unbatched")
            to_dtype[dtype](module)
            module(*args)
            for what, tensors in (
                ("parameter", module.named_parameters()),
                ("buffer", module.named_buffers()),
            ):
                for tensor_name, tensor in tensors:
                    assert tensor.device == torch.device("cpu"), f"{what} {tensor_name}"
                    if tensor.is_floating_point():
                        assert tensor.dtype == dtype, (
                            f"sample {index}: {what} {tensor_name} is {tensor.dtype}"
                        )

    check_like_torch(check, name, impl)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_to_converts_and_keeps_parity(name, impl):
    """``.to(dtype)``, ``.double()``, ``.float()`` and ``.to(device)`` on our twin as on torch's,
    parity kept after each conversion."""
    sample = next(s for _, s in iter_samples(name, torch.float32, requires_grad=False))
    reference, ours = pair_for(sample, name, impl, torch.float32)
    for convert in (
        methodcaller("double"),
        methodcaller("float"),
        methodcaller("to", torch.float64),
        methodcaller("to", "cpu"),
        methodcaller("to", device="cpu", dtype=torch.float64),
    ):
        assert convert(ours) is ours
        convert(reference)
        dtype = next(reference.parameters()).dtype
        args = map_tensors(sample.forward_input.args, methodcaller("to", dtype))
        assert_same(ours(*args), reference(*args), dtype)
        assert all(p.dtype == dtype for p in ours.parameters())


# --------------------------------------------------------------------------------------------
# test_modules.test_grad / test_gradgrad: gradcheck with batched gradients, float64


def gradcheck_function(module, args):
    """``(fn, flat_inputs)`` as torch's test builds them: the forward's tensors and the
    module's parameters are the inputs; ``fn`` rebuilds the forward arguments from them."""
    arg_tensors = flat_tensors(args)
    params = list(module.parameters())

    def fn(*flat):
        substitutes = iter(flat[: len(arg_tensors)])
        new_args = map_tensors(args, lambda _: next(substitutes))
        return tuple(flat_tensors(module(*new_args)))

    return fn, [*arg_tensors, *params]


def check_or_skip_like_torch(check, name, sample, impl, **options):
    """Run ``check`` on our twin; if it fails, run it on torch.nn and skip when torch fails too."""
    ctor = sample.constructor_input
    reference, ours = make_pair(name, ctor.args, ctor.kwargs, impl, torch.float64)
    args = sample.forward_input.args
    try:
        fn, inputs = gradcheck_function(ours, args)
        assert check(fn, inputs, **options)
    except Exception as ours_error:
        try:
            fn, inputs = gradcheck_function(reference, args)
            check(fn, inputs, **options)
        except Exception as torch_error:  # noqa: BLE001
            pytest.skip(f"torch.nn.{name} fails this check too: {torch_error}"[:300])
        raise ours_error


def gradcheck_subset(name, sample):
    """Sizes are tiny, but the batched-gradient checks are the slowest here: per layer, both
    directions time-major with bias, unbatched, with a state and packed (RNN: relu only with a
    state), and one sample without bias."""
    if name not in LAYER_NAMES:
        return True
    kwargs = sample.constructor_input.kwargs
    args = sample.forward_input.args
    with_hx, first = len(args) > 1, args[0]
    packed_two = isinstance(first, PackedSequence) and int(first.batch_sizes[0]) == 2
    if kwargs["batch_first"] or packed_two:
        return False
    if not kwargs["bias"]:
        return (
            kwargs["bidirectional"]
            and with_hx
            and not kwargs.get("proj_size")
            and kwargs.get("nonlinearity", "tanh") == "tanh"
        )
    return kwargs.get("nonlinearity") != "relu" or with_hx


def gradgradcheck_subset(name, sample):
    """One sample per layer: unbatched, bidirectional, two layers, with an initial state (LSTM:
    with projections)."""
    if name not in LAYER_NAMES:
        return True
    kwargs = sample.constructor_input.kwargs
    if not kwargs["bias"] or kwargs["batch_first"] or kwargs.get("nonlinearity") == "relu":
        return False
    with_hx = len(sample.forward_input.args) > 1
    return with_hx and kwargs["bidirectional"] and kwargs.get("proj_size", 2) == 2


@pytest.mark.parametrize(
    ("name", "impl", "dtype", "index"),
    sample_params(dtypes=(torch.float64,), select=gradcheck_subset),
)
def test_gradcheck_with_batched_grad(name, impl, dtype, index):
    sample = get_sample(name, dtype, index)
    check_or_skip_like_torch(
        torch.autograd.gradcheck, name, sample, impl, check_batched_grad=True, fast_mode=True
    )


@pytest.mark.parametrize(
    ("name", "impl", "dtype", "index"),
    sample_params(dtypes=(torch.float64,), select=gradgradcheck_subset),
)
def test_gradgradcheck_with_batched_grad(name, impl, dtype, index):
    sample = get_sample(name, dtype, index)
    check_or_skip_like_torch(
        torch.autograd.gradgradcheck, name, sample, impl, check_batched_grad=True, fast_mode=True
    )


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_gradcheck_partial_derivatives(name, impl):
    """As torch's test_grad: the input alone, then the input with one parameter at a time
    (frozen parameters must not break the fused or the cells path)."""
    samples = [s for _, s in iter_samples(name, torch.float64)]
    # the richest sample: most parameters, an initial state
    sample = max(
        samples,
        key=lambda s: (
            len(s.forward_input.args),
            sum(1 for v in s.constructor_input.kwargs.values() if v is True),
        ),
    )
    ctor = sample.constructor_input
    args = sample.forward_input.args

    def check(build):
        module = build(*ctor.args, **ctor.kwargs).double()
        named = module.state_dict(keep_vars=True)  # (torch's names, whatever the module tree)
        params = list(module.parameters())
        for p in params:
            p.requires_grad_(False)
        fn, inputs = gradcheck_function(module, args)
        assert torch.autograd.gradcheck(fn, inputs, check_batched_grad=True, fast_mode=True)
        # one at a time: every parameter of a cell, of the first layer and of the last
        # direction of the last layer of a layer
        last = f"_l{getattr(module, 'num_layers', 1) - 1}"
        last += "_reverse" if getattr(module, "bidirectional", False) else ""
        chosen = [v for k, v in named.items() if "_l" not in k or k.endswith(("_l0", last))]
        for p in chosen:
            p.requires_grad_(True)
            assert torch.autograd.gradcheck(fn, inputs, check_batched_grad=True, fast_mode=True)
            p.requires_grad_(False)

    check_like_torch(check, name, impl)


# --------------------------------------------------------------------------------------------
# test_modules.test_errors: the exception type torch raises


def error_params():
    params = []
    for name in TWIN_NAMES:
        count = len(error_inputs(name, torch.float32))
        impls = IMPLS if name in LAYER_NAMES else (None,)
        for impl in impls:
            for dtype in DTYPES:
                for index in range(count):
                    label = "-".join(p for p in (name, impl, DTYPE_IDS[dtype], str(index)) if p)
                    params.append(pytest.param(name, impl, dtype, index, id=label))
    return params


@pytest.mark.parametrize(("name", "impl", "dtype", "index"), error_params())
def test_error_sample_raises_torch_type(name, impl, dtype, index):
    error = error_inputs(name, dtype)[index]
    sample = error.module_error_input
    ctor = sample.constructor_input
    build_reference = lambda: getattr(nn, name)(*ctor.args, **ctor.kwargs)  # noqa: E731
    build_ours = lambda: build_twin(name, ctor.args, ctor.kwargs, layer_impl(name, impl))  # noqa: E731
    if error.error_on == ModuleErrorEnum.CONSTRUCTION_ERROR:
        with pytest.raises(error.error_type, match=error.error_regex):
            build_reference()
        with pytest.raises(error.error_type):
            build_ours()
        return
    args = sample.forward_input.args
    reference = build_reference()
    with pytest.raises(error.error_type, match=error.error_regex):
        reference(*args)
    ours = build_ours()
    with pytest.raises(error.error_type):
        ours(*args)


# --------------------------------------------------------------------------------------------
# test_modules.test_pickle / test_repr


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_pickle_and_torch_save_round_trip(name, impl):
    def check(build):
        for index, sample in iter_samples(name, torch.float64, requires_grad=False):
            if sample.constructor_input.kwargs.get("batch_first"):
                continue  # (half the samples: pickling does not depend on the layout)
            ctor = sample.constructor_input
            module = build(*ctor.args, **ctor.kwargs).double()
            args = sample.forward_input.args
            output = module(*args)
            buffer = io.BytesIO()
            torch.save(module, buffer)
            buffer.seek(0)
            loaded = torch.load(buffer, weights_only=False)
            assert type(loaded) is type(module)
            assert_same(loaded(*args), output, torch.float64, f"sample {index} after torch.load")
            copied = pickle.loads(pickle.dumps(module))
            assert_same(copied(*args), output, torch.float64, f"sample {index} after pickle")
            copied = copy.deepcopy(module)
            assert_same(copied(*args), output, torch.float64, f"sample {index} after deepcopy")

    check_like_torch(check, name, impl)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_torch_load_weights_only(name, impl):
    """``torch.load(f)`` with its default ``weights_only=True`` loads a saved twin: our public
    classes are safe globals once seqmodels is imported (torch.nn's own classes are not, so this
    is a promise beyond torch's; the state dict route is compared with torch's too)."""
    sample = next(s for _, s in iter_samples(name, torch.float64, requires_grad=False))
    reference, ours = pair_for(sample, name, impl, torch.float64)
    args = sample.forward_input.args
    buffer = io.BytesIO()
    torch.save(ours, buffer)
    buffer.seek(0)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(buffer) == []
    buffer.seek(0)
    loaded = torch.load(buffer)
    assert_same(loaded(*args), ours(*args), torch.float64)
    # the state dict saved by torch.nn loads with weights_only into our twin, and back
    buffer = io.BytesIO()
    torch.save(reference.state_dict(), buffer)
    buffer.seek(0)
    fresh = build_twin(
        name, sample.constructor_input.args, sample.constructor_input.kwargs, layer_impl(name, impl)
    ).double()
    fresh.load_state_dict(torch.load(buffer), strict=True)
    assert_same(fresh(*args), reference(*args), torch.float64)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_repr_and_str(name, impl):
    for _, sample in iter_samples(name, torch.float32, requires_grad=False):
        ctor = sample.constructor_input
        ours = build_twin(name, ctor.args, ctor.kwargs, layer_impl(name, impl))
        text = repr(ours)
        assert text.startswith(f"{name}(") and str(ours) == text
        reference = getattr(nn, name)(*ctor.args, **ctor.kwargs)
        # what torch.nn shows (sizes and non-default options) shows in ours too (quotes aside)
        inside = repr(reference)[len(name) + 1 : -1]
        for part in inside.split(", "):
            assert part in text.replace("'", ""), f"{part!r} missing from {text!r}"


# --------------------------------------------------------------------------------------------
# test_modules.test_factory_kwargs / test_device_ctx_init


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS.get)
@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_factory_kwargs(name, impl, dtype):
    def check(build):
        for index, sample in iter_samples(name, dtype, requires_grad=False):
            ctor = sample.constructor_input
            module = build(*ctor.args, **ctor.kwargs, device="cpu", dtype=dtype)
            tensors = [*module.named_parameters(), *module.named_buffers()]
            assert tensors, "no parameters"
            for tensor_name, tensor in tensors:
                assert tensor.device == torch.device("cpu"), f"sample {index}: {tensor_name}"
                if tensor.is_floating_point():
                    assert tensor.dtype == dtype, f"sample {index}: {tensor_name} is {tensor.dtype}"

    check_like_torch(check, name, impl)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_device_context_construction(name, impl):
    """Built under ``with torch.device('meta')``: parameters on meta with the metadata of the
    CPU-built ones (and as torch.nn's, name by name)."""
    for _, sample in iter_samples(name, torch.float32, requires_grad=False):
        ctor = sample.constructor_input
        cpu = build_twin(name, ctor.args, ctor.kwargs, layer_impl(name, impl))
        with torch.device("meta"):
            meta = build_twin(name, ctor.args, ctor.kwargs, layer_impl(name, impl))
            reference = getattr(nn, name)(*ctor.args, **ctor.kwargs)
        meta_tensors = dict(meta.named_parameters())
        cpu_tensors = dict(cpu.named_parameters())
        assert list(meta_tensors) == list(cpu_tensors)
        for key, tensor in meta_tensors.items():
            assert tensor.is_meta, key
            assert (tensor.shape, tensor.dtype, tensor.stride()) == (
                cpu_tensors[key].shape,
                cpu_tensors[key].dtype,
                cpu_tensors[key].stride(),
            ), key
        assert {k: (v.shape, v.dtype) for k, v in meta.state_dict().items()} == {
            k: (v.shape, v.dtype) for k, v in reference.state_dict().items()
        }


# --------------------------------------------------------------------------------------------
# test_modules.test_non_contiguous_tensors / test_memory_format


def non_contiguous(obj):
    """The same values, laid out with a stride of 2 in the last dimension."""

    def spread(t):
        if t.dim() == 0:
            return t
        out = torch.repeat_interleave(t.detach(), 2, dim=-1)[..., ::2]
        assert not out.is_contiguous()
        return out.requires_grad_(t.requires_grad)

    return map_tensors(obj, spread)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_non_contiguous_inputs(name, impl):
    """Non-contiguous inputs, states and output gradients give the contiguous results, on our
    twin as on torch.nn (float64; the layout does not depend on the dtype; time-major samples,
    the batch-first ones only transpose)."""
    dtype = torch.float64
    for index, sample in iter_samples(name, dtype):
        if sample.constructor_input.kwargs.get("batch_first"):
            continue
        reference, ours = pair_for(sample, name, impl, dtype)
        args = sample.forward_input.args
        for label, variant in (
            ("contiguous", fresh_leaves(args)),
            ("non-contiguous", non_contiguous(args)),
        ):
            # (torch's own run of the variant is the oracle; its failure skips the variant)
            try:
                expected, expected_grads = forward_and_grads(reference, fresh_leaves(variant))
            except Exception as error:  # noqa: BLE001
                pytest.skip(f"torch.nn.{name} fails on {label} sample {index}: {error}")
            got, got_grads = forward_and_grads(ours, variant)
            assert_same(got, expected, dtype, f"sample {index} {label}")
            assert_same_grads(got_grads, expected_grads, dtype)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_outputs_and_gradients_are_contiguous(name, impl):
    """test_memory_format for inputs of at most 3 dimensions: every output and every input
    gradient is contiguous where torch.nn's is; module.to(memory_format=...) changes nothing."""
    dtype = torch.float64
    for index, sample in iter_samples(name, dtype):
        if index % 2:  # (every other sample: each layout option still appears)
            continue
        reference, ours = pair_for(sample, name, impl, dtype)
        args = sample.forward_input.args
        expected = [t.is_contiguous() for t in flat_tensors(reference(*fresh_leaves(args)))]
        for memory_format in (torch.preserve_format, torch.contiguous_format):
            ours.to(memory_format=memory_format)
            leaves = fresh_leaves(args)
            outputs = flat_tensors(ours(*leaves))
            got = [t.is_contiguous() for t in outputs]
            assert [g or not e for g, e in zip(got, expected, strict=True)] == [True] * len(got), (
                f"sample {index}: outputs contiguous {got}, torch.nn's {expected}"
            )
            inputs = [t for t in flat_tensors(leaves) if t.requires_grad] + list(ours.parameters())
            grads = torch.autograd.grad(
                outputs, inputs, [torch.rand_like(o) for o in outputs], allow_unused=True
            )
            for i, g in enumerate(grads):
                assert g is None or g.is_contiguous(), (
                    f"sample {index}: gradient {i} not contiguous"
                )


# --------------------------------------------------------------------------------------------
# train / eval (test_if_train_and_eval_modes_differ, and parity in both modes)


@pytest.mark.parametrize(("name", "impl"), impl_params())
def test_train_eval_flag_use(name, impl):
    """torch declares ``train_and_eval_differ`` True for the layers and False for the cells:
    a cell's forward must not read ``training``."""
    differ = MODULE_INFOS[name].train_and_eval_differ

    def check(build):
        for index, sample in iter_samples(name, torch.float32, requires_grad=False):
            ctor = sample.constructor_input
            module = build(*ctor.args, **ctor.kwargs)
            delattr(module, "training")
            try:
                module(*sample.forward_input.args)
            except AttributeError as error:
                if "'training'" not in str(error) or not differ:
                    raise AssertionError(f"sample {index}: {error}") from error

    check_like_torch(check, name, impl)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_train_eval_parity_with_dropout(name, impl, training):
    """Dropout between layers: in eval both are deterministic and equal; in training our twin
    is random like torch's, the same where dropout is 0 or 1."""
    kwargs = {"num_layers": 3, "dropout": 0.5}
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    reference, ours = make_pair(name, (3, 5), kwargs, impl, torch.float64, training)
    a, b = ours(x)[0], ours(x)[0]
    if training:
        assert not torch.equal(a, b), "dropout in training should draw a new mask per call"
    else:
        assert torch.equal(a, b)
        assert_same(a, reference(x)[0], torch.float64)
    for p in (0.0, 1.0):
        reference.dropout = ours.dropout = p
        assert_same(ours(x), reference(x), torch.float64)


# --------------------------------------------------------------------------------------------
# type and value checks of the constructor, edge sizes, as torch.nn makes them


CONSTRUCTOR_CASES = {
    "bias=0": ((3, 5), {"bias": 0}),
    "bias=1": ((3, 5), {"bias": 1}),
    "bias='True'": ((3, 5), {"bias": "True"}),
    "batch_first='False'": ((3, 5), {"batch_first": "False"}),
    "batch_first=0": ((3, 5), {"batch_first": 0}),
    "input_size=3.0": ((3.0, 5), {}),
    "input_size='3'": (("3", 5), {}),
    "hidden_size=5.0": ((3, 5.0), {}),
    "num_layers=2.0": ((3, 5), {"num_layers": 2.0}),
    "num_layers=0": ((3, 5), {"num_layers": 0}),
    "input_size=0": ((0, 5), {}),
    "hidden_size=0": ((3, 0), {}),
    "hidden_size=-1": ((3, -1), {}),
    "dropout=1.5": ((3, 5), {"dropout": 1.5, "num_layers": 2}),
    "dropout=-0.1": ((3, 5), {"dropout": -0.1, "num_layers": 2}),
    "dropout=True": ((3, 5), {"dropout": True, "num_layers": 2}),
    "dropout='0.5'": ((3, 5), {"dropout": "0.5", "num_layers": 2}),
    "proj_size=2": ((3, 5), {"proj_size": 2}),
    "proj_size=5": ((3, 5), {"proj_size": 5}),
    "proj_size=-1": ((3, 5), {"proj_size": -1}),
    "nonlinearity='garbage'": ((3, 5), {"nonlinearity": "garbage"}),
}


@pytest.mark.parametrize("case", list(CONSTRUCTOR_CASES))
@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_constructor_checks_as_torch(name, impl, case):
    """Where torch.nn raises, ours raises the same type (TypeError for a wrong type, ValueError
    for a bad value, ValueError for ``proj_size`` on RNN / GRU); where torch.nn accepts the
    arguments, ours accepts them too."""
    args, kwargs = CONSTRUCTOR_CASES[case]
    expect_same_outcome(
        lambda: getattr(nn, name)(*args, **kwargs),
        lambda: build_twin(name, args, kwargs, impl),
        compare=False,
    )


@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_bidirectional_not_bool_is_a_type_error(name, impl):
    """torch.nn builds a layer with ``bidirectional="x"`` and raises TypeError at the first
    forward; ours raises TypeError too (at construction, naming the argument, is best)."""
    x = torch.randn(4, 2, 3)
    with pytest.raises(TypeError):
        getattr(nn, name)(3, 5, bidirectional="x")(x)
    with pytest.raises(TypeError, match="bidirectional"):
        build_twin(name, (3, 5), {"bidirectional": "x"}, impl)(x)


CELL_CONSTRUCTOR_CASES = {
    "input_size=3.0": ((3.0, 5), {}),
    "hidden_size=5.0": ((3, 5.0), {}),
    "input_size='3'": (("3", 5), {}),
}


@pytest.mark.parametrize("case", list(CELL_CONSTRUCTOR_CASES))
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_constructor_checks_as_torch(name, case):
    """Non-integer sizes: TypeError, as torch.nn's cells raise."""
    args, kwargs = CELL_CONSTRUCTOR_CASES[case]
    expect_same_outcome(
        lambda: getattr(nn, name)(*args, **kwargs),
        lambda: build_twin(name, args, kwargs),
        compare=False,
    )


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_negative_size_is_an_error(name):
    """torch.nn's cells fail on a negative size only by accident (RuntimeError from
    torch.empty); ours raise that type or a ValueError that names the argument."""
    with pytest.raises(RuntimeError):
        getattr(nn, name)(3, -1)
    with pytest.raises((RuntimeError, ValueError), match="hidden_size"):
        build_twin(name, (3, -1))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("RNNCell", {"nonlinearity": "tanh"}),
        ("RNNCell", {"nonlinearity": "relu"}),
        ("LSTMCell", {}),
        ("GRUCell", {}),
    ],
    ids=["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"],
)
def test_cell_hidden_size_zero(name, kwargs):
    """``hidden_size=0`` cells work in torch.nn: outputs of shape (N, 0), gradients zero."""
    reference, ours = make_pair(name, (4, 0), kwargs, dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    hx = torch.randn(3, 0, dtype=torch.float64)
    state = (hx, hx) if name == "LSTMCell" else hx
    expected, expected_grads = forward_and_grads(reference, (x, state))
    got, got_grads = forward_and_grads(ours, (x, state))
    assert_same(got, expected)
    assert_same_grads(got_grads, expected_grads, torch.float64)
    assert_same(ours(x), reference(x))  # no hx


@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_dropout_one_as_torch(name, impl):
    """``dropout=1`` is accepted (torch warns nothing for num_layers > 1): in training every
    layer after the first reads zeros; in eval nothing is dropped."""
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    for training in (True, False):
        reference, ours = make_pair(
            name, (3, 5), {"num_layers": 2, "dropout": 1}, impl, torch.float64, training
        )
        assert ours.dropout == reference.dropout
        assert_same(ours(x), reference(x), torch.float64)


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_major", "batch_first"])
@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_batch_of_zero_sequences(name, impl, batch_first):
    """A batch of 0 sequences ((T, 0, I), or (0, T, I) batch-first) runs in torch.nn: outputs
    (T, 0, H), states (D * L, 0, H), zero gradients."""
    shape = (0, 5, 3) if batch_first else (5, 0, 3)
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first}
    reference, ours = make_pair(name, (3, 4), kwargs, impl, torch.float64)
    x = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    expected, expected_grads = forward_and_grads(reference, (x,))
    got, got_grads = forward_and_grads(ours, (fresh_leaves(x),))
    assert_same(got, expected)
    assert_same_grads(got_grads, expected_grads, torch.float64)


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize(("name", "impl"), impl_params(LAYER_NAMES))
def test_sequence_length_zero_errors_as_torch(name, impl, batched):
    """torch.nn: RuntimeError "Expected sequence length to be larger than 0 in RNN"."""
    x = torch.zeros((0, 2, 3) if batched else (0, 3))
    reference, ours = make_pair(name, (3, 4), {}, impl)
    error = expect_same_outcome(reference, ours, x, compare=False)
    assert error is not None, "torch.nn accepted a sequence of length 0"
