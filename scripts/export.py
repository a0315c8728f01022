"""Export a trained model to ONNX or to a torch.export program, checked against PyTorch.

Examples::

    python scripts/export.py outputs/<date>/<time>/checkpoints/last.ckpt --format onnx \
        --out model.onnx
    python scripts/export.py last.ckpt --format pt2 --out model.pt2 --seq-len 50

What is exported, by the checkpoint's model (the batch size stays dynamic; the recurrence is
unrolled over ``--seq-len`` steps):

* ``SequenceRegressor``: windows ``(N, L, input_size)`` -> predictions;
* ``SequenceClassifier``: token ids ``(N, L)`` of equal length (no padding) -> logits;
* ``CharLM``: one generation step, token ids ``(N, 1)`` and the recurrent state -> logits
  ``(N, V)`` and the new state (call it once per token, feeding the state back).

A checkpoint of another model is refused with the experiment it was trained with.

The exported file is run on a fresh sample batch of another batch size (with onnxruntime for
ONNX) and compared with the PyTorch model; the script fails when they differ. ONNX needs the
``export`` extra: ``pip install -e ".[export]"``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor, nn

from seqmodels.models import CharLM, Seq2Seq, SequenceClassifier, SequenceRegressor
from seqmodels.models.spec import CheckpointMismatch, load_checkpoint

FORMATS = ("onnx", "pt2")
EXPORTED = (SequenceRegressor, SequenceClassifier, CharLM)  # the models example_inputs knows


class CharLMStep(nn.Module):
    """One step of a :class:`~seqmodels.models.CharLM` with its state as separate tensors:
    ``(tokens (N, 1), *state) -> (logits (N, V), *new_state)``."""

    def __init__(self, model: CharLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        state = None if not state else state[0] if len(state) == 1 else state
        logits, new = self.model(tokens, state)
        return (logits[:, -1], *(new if isinstance(new, tuple) else (new,)))


def example_inputs(
    model: nn.Module, batch: int, seq_len: int, generator: torch.Generator
) -> tuple[nn.Module, tuple[Tensor, ...], list[str], list[str]]:
    """``(module to export, its inputs for a batch of ``batch``, input names, output names)``."""
    if isinstance(model, SequenceRegressor):
        x = torch.randn(batch, seq_len, model.input_size, generator=generator)
        return model, (x,), ["window"], ["prediction"]
    if isinstance(model, SequenceClassifier):
        tokens = torch.randint(1, model.vocab_size, (batch, seq_len), generator=generator)
        return model, (tokens,), ["tokens"], ["logits"]
    if isinstance(model, CharLM):
        step = CharLMStep(model)
        tokens = torch.randint(0, model.vocab_size, (batch, 1), generator=generator)
        with torch.no_grad():
            state = step(tokens)[1:]
        state = tuple(torch.randn(s.shape, generator=generator) * 0.5 for s in state)
        names = [f"state{i}" for i in range(len(state))]
        return step, (tokens, *state), ["tokens", *names], ["logits", *(f"new_{n}" for n in names)]
    raise ValueError(
        f"cannot export a {type(model).__name__}: supported models are SequenceRegressor, "
        "SequenceClassifier and CharLM"
    )


def dynamic_batch(module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple:
    """The batch dimension of every input (``dynamic_shapes`` for ``torch.export``): dim 0, and
    dim 1 of the recurrent states that :class:`CharLMStep` takes as its ``*state``."""
    batch = torch.export.Dim("batch", min=1, max=4096)
    if isinstance(module, CharLMStep):
        return ({0: batch}, tuple({1: batch} for _ in inputs[1:]))
    return tuple({0: batch} for _ in inputs)


def export(
    module: nn.Module, inputs: tuple[Tensor, ...], names: tuple, fmt: str, out: Path
) -> None:
    """Write ``module`` traced on ``inputs`` to ``out`` as ONNX or as a ``.pt2`` program."""
    shapes = dynamic_batch(module, inputs)
    if fmt == "pt2":
        torch.export.save(torch.export.export(module, inputs, dynamic_shapes=shapes), out)
    else:
        input_names, output_names = names
        torch.onnx.export(
            module, inputs, str(out), dynamo=True, dynamic_shapes=shapes,
            input_names=input_names, output_names=output_names,
        )  # fmt: skip


def run_exported(
    fmt: str, out: Path, inputs: tuple[Tensor, ...], input_names: list[str]
) -> list[Tensor]:
    """Run the exported file on ``inputs``: onnxruntime for ONNX, ``torch.export.load`` else."""
    if fmt == "pt2":
        with torch.no_grad():
            result = torch.export.load(out).module()(*inputs)
        return list(result) if isinstance(result, tuple) else [result]
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    feed = {name: tensor.numpy() for name, tensor in zip(input_names, inputs, strict=True)}
    return [torch.from_numpy(array) for array in session.run(None, feed)]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a .ckpt file written by a training run")
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx or pt2")
    parser.add_argument("--out", required=True, type=Path, help="the file to write")
    parser.add_argument("--seq-len", type=int, default=32, help="time steps of the inputs")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed difference")
    args = parser.parse_args(argv)
    if args.seq_len < 1:
        parser.error(f"--seq-len must be positive, got {args.seq_len}")
    if not Path(args.checkpoint).is_file():
        parser.error(f"checkpoint not found: {args.checkpoint}")
    if args.format == "onnx":
        try:
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError as error:
            parser.error(
                f"--format onnx needs the export extra: pip install -e '.[export]' ({error})"
            )

    generator = torch.Generator().manual_seed(0)
    try:
        module, inputs, inputs_names, output_names = example_inputs(
            load_checkpoint(args.checkpoint, expected=EXPORTED)[0], 2, args.seq_len, generator
        )
    except CheckpointMismatch as error:
        decode = issubclass(error.found, Seq2Seq)
        parser.error(
            f"{error}; export.py exports regression, classification and character language "
            "models: train one with experiment=sine, sst2 or shakespeare"
            + ("; translate.py decodes with a Seq2Seq checkpoint" if decode else "")
        )
    except ValueError as error:
        parser.error(str(error))
    export(module, inputs, (inputs_names, output_names), args.format, args.out)

    _, sample, _, _ = example_inputs(
        module.model if isinstance(module, CharLMStep) else module, 5, args.seq_len, generator
    )
    with torch.no_grad():
        expected = module(*sample)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    got = run_exported(args.format, args.out, sample, inputs_names)
    difference = max((a - b).abs().max().item() for a, b in zip(got, expected, strict=True))
    print(
        f"wrote {args.out} ({args.format}); largest difference from PyTorch on a batch of 5: ",
        end="",
    )
    print(f"{difference:.2e}")
    if not difference <= args.tolerance:
        raise SystemExit(
            f"the exported model differs from PyTorch by {difference:.2e} > {args.tolerance}"
        )
    return difference


if __name__ == "__main__":
    main()
