"""The public API has two levels: ``seqmodels`` is the layer library, ``seqmodels.models`` the
heads and everything their public signatures mention; both import only torch."""

import inspect
import subprocess
import sys
import typing

import seqmodels
import seqmodels.models

LAYER_LIBRARY = {"RNNCell", "LSTMCell", "GRUCell", "Recurrent", "RNN", "LSTM", "GRU",
                 "Bidirectional", "merge_directions", "build_recurrent", "CELLS", "register_cell"}  # fmt: skip
HEADS = {"CharLM", "SequenceClassifier", "SequenceRegressor", "WindowForecaster", "WindowMLP",
         "Seq2Seq", "Encoder", "Decoder", "Bridge", "Attention", "Memory", "Generation"}  # fmt: skip


def test_each_level_exports_its_own_names_and_they_all_import():
    assert LAYER_LIBRARY <= set(seqmodels.__all__)
    assert HEADS <= set(seqmodels.models.__all__)
    assert not HEADS & set(seqmodels.__all__)
    assert not hasattr(seqmodels, "Seq2Seq")
    for module in (seqmodels, seqmodels.models):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def _named_types(hint: object) -> set[type]:
    """The classes inside a type hint (``Memory | None``, ``tuple[Tensor, State]``, ...)."""
    found = {hint} if inspect.isclass(hint) else set()
    for arg in typing.get_args(hint):
        found |= _named_types(arg)
    return found


def test_every_head_class_in_a_public_signature_is_exported_from_models():
    exported = {getattr(seqmodels.models, name) for name in seqmodels.models.__all__}
    mentioned = {}
    for cls in filter(inspect.isclass, exported):
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_") and name != "__init__":
                continue
            for hint in typing.get_type_hints(method).values():
                for t in _named_types(hint):
                    if t.__module__.startswith("seqmodels.models"):
                        mentioned[t] = f"{cls.__name__}.{name}"
    missing = {t.__name__: where for t, where in mentioned.items() if t not in exported}
    assert not missing, f"not exported from seqmodels.models: {missing}"


def test_importing_the_library_and_the_heads_pulls_in_no_training_stack():
    code = (
        "import sys\n"
        "import seqmodels, seqmodels.models\n"
        "from seqmodels import *\n"
        "from seqmodels.models import *\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'lightning', 'pytorch_lightning', 'hydra', 'omegaconf', 'torchmetrics', 'matplotlib'})\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
