"""Shared by the torch.nn twin tests: torch's own ModuleInfo samples, the twin factory, comparisons.

``module_db`` is read from the installed wheel (``torch.testing._internal.common_modules``), so
the samples follow the installed torch. Importing it needs ``expecttest`` (a test dependency of
torch that the wheel does not pull in); when it is missing a minimal stand-in is used for the
import only. The import also freezes ``torch.backends`` flags for the whole process
(``disable_global_flags``); that is undone here, so other tests may still set them.
"""

from __future__ import annotations

import sys
import types
import unittest
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

import seqmodels

TWIN_NAMES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
LAYER_NAMES = ("RNN", "LSTM", "GRU")
CELL_NAMES = ("RNNCell", "LSTMCell", "GRUCell")
#: the ``impl`` values every built-in layer takes: torch's fused kernels, or seqmodels' cells
IMPLS = ("auto", "cells")
DTYPES = (torch.float32, torch.float64)
#: parity tolerances (DESIGN.md: float64 ~1e-10, float32 ~1e-5)
TOLERANCE = {
    torch.float64: {"atol": 1e-10, "rtol": 1e-10},
    torch.float32: {"atol": 1e-5, "rtol": 1e-5},
}


# --------------------------------------------------------------------------------------------
# torch's ModuleInfo database


def _import_common_modules() -> types.ModuleType:
    stub = None
    try:
        import expecttest  # noqa: F401
    except ImportError:
        stub = types.ModuleType("expecttest")
        stub.TestCase = unittest.TestCase  # type: ignore[attr-defined]
        stub.ACCEPT = False  # type: ignore[attr-defined]
        sys.modules["expecttest"] = stub
    frozen = torch.backends.flags_frozen()
    try:
        from torch.testing._internal import common_modules
    finally:
        if stub is not None and sys.modules.get("expecttest") is stub:
            del sys.modules["expecttest"]
        if not frozen:  # common_utils calls torch.backends.disable_global_flags() on import
            setattr(torch.backends, "__allow_nonbracketed_mutation_flag", True)
    return common_modules


common_modules = _import_common_modules()
ModuleErrorEnum = common_modules.ModuleErrorEnum
MODULE_INFOS = {
    info.module_cls.__name__: info
    for info in common_modules.module_db
    if info.module_cls in tuple(getattr(nn, name) for name in TWIN_NAMES)
}
assert set(MODULE_INFOS) == set(TWIN_NAMES), sorted(MODULE_INFOS)


def module_inputs(
    name: str, dtype: torch.dtype, requires_grad: bool = True, training: bool = True, seed: int = 0
) -> list:
    """torch's ``module_inputs_func`` samples of ``nn.<name>``, packed-sequence samples on.

    The samples hold random tensors drawn from the global generator; ``seed`` fixes them.
    """
    info = MODULE_INFOS[name]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return list(info.module_inputs_func(
            info, device="cpu", dtype=dtype, requires_grad=requires_grad, training=training,
            with_packed_sequence=True,
        ))  # fmt: skip


def error_inputs(name: str, dtype: torch.dtype) -> list:
    """torch's ``module_error_inputs_func`` samples of ``nn.<name>``."""
    info = MODULE_INFOS[name]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return list(info.module_error_inputs_func(
            info, device="cpu", dtype=dtype, requires_grad=False, training=True,
        ))  # fmt: skip


def describe_constructor(sample) -> str:
    """A short readable id of a sample's constructor arguments (and packed input)."""
    ctor = sample.constructor_input
    parts = [str(a) for a in ctor.args]
    short = {
        "input_size": "in",
        "hidden_size": "h",
        "num_layers": "L",
        "batch_first": "bf",
        "bias": "bias",
        "bidirectional": "bi",
        "nonlinearity": "",
        "proj_size": "proj",
    }
    for key, value in ctor.kwargs.items():
        label = short.get(key, key)
        if isinstance(value, bool):
            parts.append(label if value else f"no{label}")
        else:
            parts.append(f"{label}{value}")
    fwd = sample.forward_input
    if fwd is not None:
        first = fwd.args[0]
        if isinstance(first, PackedSequence):
            parts.append(f"packed{list(first.batch_sizes.shape)[0]}x{int(first.batch_sizes[0])}")
        else:
            parts.append("x" + "x".join(map(str, first.shape)))
        if len(fwd.args) > 1:
            parts.append("hx")
    return "-".join(parts)


def sample_ids(name: str) -> list[str]:
    samples = module_inputs(name, torch.float64)
    return [f"{i}-{describe_constructor(s)}" for i, s in enumerate(samples)]


# --------------------------------------------------------------------------------------------
# twins


def constructor_kwargs(module: nn.Module) -> dict[str, Any]:
    """The keyword arguments that rebuild ``module`` (a torch.nn RNN layer or cell)."""
    if isinstance(module, nn.RNNBase):
        kwargs = {
            "input_size": module.input_size, "hidden_size": module.hidden_size,
            "num_layers": module.num_layers, "bias": module.bias,
            "batch_first": module.batch_first, "dropout": module.dropout,
            "bidirectional": module.bidirectional,
        }  # fmt: skip
        if isinstance(module, nn.LSTM):
            kwargs["proj_size"] = module.proj_size
        if isinstance(module, nn.RNN):
            kwargs["nonlinearity"] = module.nonlinearity
    elif isinstance(module, nn.RNNCellBase):
        kwargs = {
            "input_size": module.input_size,
            "hidden_size": module.hidden_size,
            "bias": module.bias,
        }
        if isinstance(module, nn.RNNCell):
            kwargs["nonlinearity"] = module.nonlinearity
    else:
        raise TypeError(f"not a torch.nn recurrent module: {type(module).__name__}")
    first = next(iter(module.parameters()), None)
    if first is not None:
        kwargs.update(device=first.device, dtype=first.dtype)
    return kwargs


def twin_class(name: str) -> type[nn.Module]:
    return getattr(seqmodels, name)


def build_twin(
    name: str, args: tuple = (), kwargs: dict | None = None, impl: str | None = None
) -> nn.Module:
    """``seqmodels.<name>(*args, **kwargs)``, with ``impl=impl`` when ``impl`` is given."""
    kwargs = dict(kwargs or {})
    if impl is not None:
        kwargs["impl"] = impl
    return twin_class(name)(*args, **kwargs)


def make_twin(reference: nn.Module, impl: str | None = None) -> nn.Module:
    """Our module of the class of the same name as ``reference``, built with the same arguments,
    carrying its weights (``load_state_dict(strict=True)``) and its train / eval mode."""
    name = type(reference).__name__
    ours = build_twin(name, (), constructor_kwargs(reference), impl)
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.train(reference.training)
    return ours


def layer_impl(name: str, impl: str | None) -> str | None:
    """``impl`` for layers, ``None`` for cells (their constructor takes no ``impl``)."""
    return impl if name in LAYER_NAMES else None


def impl_params(names: tuple[str, ...] = TWIN_NAMES) -> list:
    """``(name, impl)`` pairs: every impl for a layer, ``None`` for a cell."""
    pairs = []
    for name in names:
        if name in LAYER_NAMES:
            pairs += [pytest.param(name, impl, id=f"{name}-{impl}") for impl in IMPLS]
        else:
            pairs.append(pytest.param(name, None, id=name))
    return pairs


def make_pair(
    name: str,
    args: tuple = (),
    kwargs: dict | None = None,
    impl: str | None = None,
    dtype: torch.dtype | None = None,
    training: bool = True,
) -> tuple[nn.Module, nn.Module]:
    """``(torch module, our twin)`` built from the same arguments, our twin loaded with the torch
    module's state dict (strict), both in ``dtype`` and in the same train / eval mode."""
    kwargs = dict(kwargs or {})
    with torch.random.fork_rng():
        torch.manual_seed(1)
        reference = getattr(nn, name)(*args, **kwargs)
    ours = build_twin(name, args, kwargs, layer_impl(name, impl))
    if dtype is not None:
        reference.to(dtype)
        ours.to(dtype)
    ours.load_state_dict(reference.state_dict(), strict=True)
    reference.train(training)
    ours.train(training)
    return reference, ours


def torch_named_tensors(module: nn.Module) -> dict[str, Tensor]:
    """The tensors behind the state-dict names (``weight_ih_l0``, ...) of ``module``.

    Parity tests read gradients through this map, so they check the maths whatever the module
    tree; the naming of ``named_parameters`` is checked on its own.
    """
    return dict(module.state_dict(keep_vars=True))


# --------------------------------------------------------------------------------------------
# trees of tensors


def map_tensors(obj: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    """``obj`` with every tensor replaced by ``fn(tensor)``; a PackedSequence keeps its index
    tensors and maps its data."""
    if isinstance(obj, PackedSequence):
        return PackedSequence(
            fn(obj.data), obj.batch_sizes, obj.sorted_indices, obj.unsorted_indices
        )
    if isinstance(obj, Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(map_tensors(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_tensors(v, fn) for k, v in obj.items()}
    return obj


def flat_tensors(obj: Any) -> list[Tensor]:
    """Every floating tensor of ``obj`` in order (a PackedSequence contributes its data)."""
    found: list[Tensor] = []
    map_tensors(obj, lambda t: found.append(t) or t)
    return found


def fresh_leaves(obj: Any) -> Any:
    """A copy of ``obj`` whose tensors are new leaves with the same ``requires_grad``."""
    return map_tensors(obj, lambda t: t.detach().clone().requires_grad_(t.requires_grad))


def assert_same(
    ours: Any,
    reference: Any,
    dtype: torch.dtype | None = None,
    what: str = "output",
    **tolerance: float,
) -> None:
    """Same structure, types, shapes, dtypes and values (within the parity tolerance)."""
    if isinstance(reference, PackedSequence):
        assert isinstance(ours, PackedSequence), (
            f"{what}: expected a PackedSequence, got {type(ours)}"
        )
        for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
            a, b = getattr(ours, field), getattr(reference, field)
            assert (a is None) == (b is None), f"{what}.{field}: {a} vs {b}"
            if b is not None:
                assert torch.equal(a, b), f"{what}.{field}: {a} vs {b}"
        assert_same(ours.data, reference.data, dtype, f"{what}.data", **tolerance)
        return
    if isinstance(reference, Tensor):
        assert isinstance(ours, Tensor), f"{what}: expected a tensor, got {type(ours)}"
        assert ours.shape == reference.shape, f"{what}: shape {ours.shape} vs {reference.shape}"
        assert ours.dtype == reference.dtype, f"{what}: dtype {ours.dtype} vs {reference.dtype}"
        tol = (
            {**TOLERANCE[dtype or reference.dtype], **tolerance}
            if reference.is_floating_point()
            else {"atol": 0, "rtol": 0}
        )
        torch.testing.assert_close(
            ours.detach(), reference.detach(), msg=lambda m: f"{what}: {m}", **tol
        )
        return
    if isinstance(reference, (tuple, list)):
        assert isinstance(ours, (tuple, list)), f"{what}: expected a sequence, got {type(ours)}"
        assert len(ours) == len(reference), f"{what}: {len(ours)} items vs {len(reference)}"
        for i, (a, b) in enumerate(zip(ours, reference, strict=True)):
            assert_same(a, b, dtype, f"{what}[{i}]", **tolerance)
        return
    assert ours == reference, f"{what}: {ours!r} vs {reference!r}"


def cotangents_for(outputs: list[Tensor], seed: int = 7) -> list[Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=generator, dtype=o.dtype) for o in outputs]


def forward_and_grads(
    module: nn.Module, args: tuple, seed: int = 7
) -> tuple[Any, dict[str, Tensor | None]]:
    """``module(*args)`` and the gradients of a fixed random linear loss of all its outputs with
    respect to every input leaf (``input0``, ``input1``, ...) and every state-dict tensor."""
    out = module(*args)
    outputs = [t for t in flat_tensors(out) if t.requires_grad]
    inputs = [t for t in flat_tensors(args) if t.requires_grad]
    named = {k: v for k, v in torch_named_tensors(module).items() if v.requires_grad}
    leaves = inputs + list(named.values())
    grads: dict[str, Tensor | None] = {}
    if outputs and leaves:
        values = torch.autograd.grad(
            outputs, leaves, cotangents_for(outputs, seed), allow_unused=True
        )
        names = [f"input{i}" for i in range(len(inputs))] + list(named)
        grads = dict(zip(names, values, strict=True))
    return out, grads


def assert_same_grads(ours: dict, reference: dict, dtype: torch.dtype) -> None:
    assert sorted(ours) == sorted(reference), (
        f"gradient names {sorted(ours)} vs {sorted(reference)}"
    )
    for key, expected in reference.items():
        got = ours[key]
        if expected is None or got is None:
            zero = lambda g: g is None or not g.any()  # noqa: E731 (unused == zero gradient)
            assert zero(got) and zero(expected), f"grad {key}: {got} vs {expected}"
            continue
        assert_same(got, expected, dtype, f"grad {key}")


def expect_same_outcome(
    reference: Callable[..., Any],
    ours: Callable[..., Any],
    *args: Any,
    compare: bool = True,
    dtype: torch.dtype | None = None,
) -> Any:
    """Call ``reference(*args)`` and ``ours(*args)``; if torch raises, ours must raise an
    exception of the same type (and this returns torch's exception); if torch succeeds, ours
    must succeed too and (``compare``) give the same result (and this returns ``None``)."""
    try:
        expected = reference(*args)
    except Exception as error:  # noqa: BLE001 (the type is what is checked)
        with pytest.raises(type(error)):
            ours(*args)
        return error
    got = ours(*args)
    if compare:
        assert_same(got, expected, dtype)
    return None


def iter_samples(name: str, dtype: torch.dtype, **kwargs) -> Iterator[tuple[int, Any]]:
    for index, sample in enumerate(module_inputs(name, dtype, **kwargs)):
        if sample.forward_input is not None:
            yield index, sample


def reference_or_skip(run: Callable[..., Any], *args: Any, what: str = "this check") -> Any:
    """``run(*args)`` on the torch.nn side of a parity check; if torch.nn fails it on the
    installed torch, the test is skipped with the reason (such a check does not count)."""
    try:
        return run(*args)
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"torch.nn fails {what} on this torch: {type(error).__name__}: {error}"[:400])


def check_like_torch(
    check: Callable[[Callable[..., nn.Module]], None], name: str, impl: str | None = None
) -> None:
    """``check(build)``, ``build(*args, **kwargs)`` making ``seqmodels.<name>`` (with ``impl``
    for a layer). If the check fails, it runs again with ``build`` making ``torch.nn.<name>``;
    when torch.nn fails it too, the test is skipped with torch's reason, else ours fails."""

    def ours(*args: Any, **kwargs: Any) -> nn.Module:
        return build_twin(name, args, kwargs, layer_impl(name, impl))

    def theirs(*args: Any, **kwargs: Any) -> nn.Module:
        return getattr(nn, name)(*args, **kwargs)

    try:
        check(ours)
    except Exception:
        try:
            check(theirs)
        except Exception as torch_error:  # noqa: BLE001
            pytest.skip(
                f"torch.nn.{name} fails this check too: {type(torch_error).__name__}: "
                f"{torch_error}"[:400]
            )
        raise
