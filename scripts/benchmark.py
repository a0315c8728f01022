"""Speed of seqmodels' layers against torch.nn's: forward and forward+backward medians.

The default run prints five markdown tables, for the CPU and, when CUDA is present, for CUDA in
float32 and in bf16 (autocast):

* ``layers``: LSTM, GRU and RNN (tanh) at (T, B, input, hidden) = (100, 64, 512, 512),
  (100, 32, 128, 128) and (50, 1, 32, 32), same weights in all three: ``impl="auto"`` (torch's
  fused kernel where it serves), ``impl="cells"`` (the readable cells) and ``torch.nn``; forward
  under ``torch.inference_mode`` and forward+backward; ratios over ``torch.nn`` (lower is
  better).
* ``lengths``: the same at (100, 32, 128, 128) on a padded batch with lengths drawn uniformly
  from 10 to 100, passed as ``lengths=`` to seqmodels' layers and packed with
  ``pack_padded_sequence`` (and padded back) for ``torch.nn``'s.
* ``layernorm``: ``Recurrent(LayerNormLSTMCell)`` eager and under
  ``torch.compile(fullgraph=True, dynamic=True)`` (warmed up first) beside ``torch.nn.LSTM``
  (the compiled inference-mode forward, another graph to compile, with ``--compiled-forward``).
* ``charlm``: a training step (forward, cross-entropy, backward, gradient clipping, Adam) of the
  ``shakespeare`` experiment's char LM, built from its composed Hydra config, with
  ``model.impl`` = auto (the default), cells and torch.
* ``flops``: achieved GFLOP/s of the largest LSTM's ``impl="auto"`` forward (the gate products,
  ``2 * T * B * 4H * (I + H)`` flops) beside the machine's matrix-product GFLOP/s.

Every timing is a median of ``--repeats`` calls after two warm-up calls; the variants compared
in one row are timed in turns (one call of each per round), so load from other processes falls
on all of them alike. On a machine shared with other processes, run it with
``OMP_WAIT_POLICY=PASSIVE``: torch's idle OpenMP threads then sleep instead of spinning, and a
thread descheduled by another process no longer stalls every parallel region (the command line
printed above the tables names the variable when it is set).

    python scripts/benchmark.py                        # everything, markdown to stdout
    python scripts/benchmark.py --json bench.json      # also write the rows as JSON
    python scripts/benchmark.py --parts layers --cells lstm --devices cpu --repeats 20

``--mingru`` prints two other tables instead (CPU): forward+backward of minGRU's scans (the CPU
default, a hand-written loop; the parallel scan) against its step loop at T = 256, 1024, 4096,
and training tokens per second (forward+backward) of a minGRU and a minLSTM char LM against the
LSTM char LM of the Shakespeare preset, with the minimal cells' hidden size (3 layers) chosen to
match its parameter count. The char-LM table also gives the time of each model's matrix products
(``torch.profiler``'s share of a step times the median) and the LSTM's time over it: the speed-up
over the LSTM that the model would reach if everything but its matrix products took no time.

    python scripts/benchmark.py --mingru --repeats 5

``--regularisers`` prints training-mode forward+backward times of each cell's layer
(``Recurrent(cell)``, the cells path) with each regulariser of :class:`seqmodels.Recurrent` at
the two larger sizes, and of the step loops (plain and masked) that would run without the cells'
fused scans:

    python scripts/benchmark.py --regularisers --repeats 10 --cells lstm gru layernorm_gru

(``layernorm_gru``, which has no ``torch.nn`` twin, is timed in this table only.)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import seqmodels
from seqmodels.cells import RecurrentCell
from seqmodels.fused import linear_recurrence
from seqmodels.models import CharLM

SHAPES = ((100, 64, 512, 512), (100, 32, 128, 128), (50, 1, 32, 32))  # T, B, input, hidden
PADDED_SHAPE = (100, 32, 128, 128)  # T is the padded length
MIN_LENGTH = 10  # lengths of the padded batch: uniform in [MIN_LENGTH, T]
LAYERNORM_SHAPE = (100, 32, 128, 128)
LM_EXPERIMENT = "shakespeare"
LM_VOCAB = 65  # Tiny Shakespeare's characters (the data module gives it in training)
LM_IMPLS = ("auto", "cells", "torch")
MATMUL_SIZE = 1024  # the square matrix product of the flops table
SCAN_SHAPE = (8, 64, 128)  # B, input, hidden of the scan timings
SCAN_STEPS = (256, 1024, 4096)
LM_BATCH = (64, 64)  # streams x window: the Shakespeare preset's batch
LM_PRESET = {"vocab_size": 65, "embedding_dim": 64}  # + the LSTM's hidden size 256
LM_MIN_LAYERS = 3
LAYERS = {
    "lstm": (seqmodels.LSTM, nn.LSTM),
    "gru": (seqmodels.GRU, nn.GRU),
    "rnn": (seqmodels.RNN, nn.RNN),
}
PARTS = ("layers", "lengths", "layernorm", "charlm", "flops")
VARIANTS = ("auto", "cells", "torch")  # the columns of the layers and lengths tables


def median_times(
    fns: dict[str, Callable[[], None]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median wall time of each of ``fns`` in milliseconds, after two warm-up calls of each.

    The functions are called in turns, one call of each per round, so that a burst of load
    from other processes slows all of them alike rather than one of them.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    for index in range(repeats + 2):
        for name, fn in fns.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if index >= 2:
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(values) for name, values in times.items()}


def median_time(fn: Callable[[], None], repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn`` in milliseconds, after two warm-up calls."""
    return median_times({"fn": fn}, repeats, device)["fn"]


def precision(device: torch.device, dtype: str) -> contextlib.AbstractContextManager:
    """``"float32"``: as is; ``"bf16"``: bf16 autocast on ``device``."""
    if dtype == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def settings(devices: list[str]) -> Iterator[tuple[torch.device, str]]:
    """(device, dtype) of each table block: float32 everywhere, also bf16 on CUDA."""
    for name in devices:
        device = torch.device(name)
        yield device, "float32"
        if device.type == "cuda":
            yield device, "bf16"


def timing_pair(
    run: Callable[[], Tensor], params: list[Tensor], context: Callable[[], object]
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Forward (under ``torch.inference_mode``) and forward+backward of ``run`` (which returns
    the output tensor); the gradients of ``params`` are dropped before each backward."""

    def forward() -> None:
        with torch.inference_mode(), context():
            run()

    def forward_backward() -> None:
        for param in params:
            param.grad = None
        with context():
            output = run()
        output.float().sum().backward()

    return forward, forward_backward


def measure(
    cell: str,
    shape: tuple[int, int, int, int],
    device: torch.device,
    repeats: int,
    dtype: str = "float32",
    padded: bool = False,
) -> dict:
    """One row of the layers table (or, with ``padded``, of the lengths table): forward and
    forward+backward ms of ``impl="auto"``, ``impl="cells"`` and ``torch.nn`` on the same
    weights, and their ratios over ``torch.nn``."""
    steps, batch, input_size, hidden_size = shape
    ours_class, torch_class = LAYERS[cell]
    reference = torch_class(input_size, hidden_size).to(device)
    layers: dict[str, nn.Module] = {}
    for impl in ("auto", "cells"):
        layers[impl] = ours_class(input_size, hidden_size, impl=impl).to(device)
        layers[impl].load_state_dict(reference.state_dict())
    layers["torch"] = reference
    x = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
    row = {"device": device.type, "dtype": dtype, "cell": cell, "T": steps, "B": batch}
    row.update(input=input_size, hidden=hidden_size)
    lengths = None
    if padded:
        generator = torch.Generator().manual_seed(0)
        lengths = torch.randint(MIN_LENGTH, steps + 1, (batch,), generator=generator)
        lengths[0] = steps  # the batch is padded to its longest sequence
        row.update(min_length=int(lengths.min()), mean_length=float(lengths.float().mean()))

    def runner(name: str, layer: nn.Module) -> Callable[[], Tensor]:
        if lengths is None:
            return lambda: layer(x)[0]
        if name == "torch":

            def packed() -> Tensor:
                sequence = pack_padded_sequence(x, lengths, enforce_sorted=False)
                output, _ = layer(sequence)
                return pad_packed_sequence(output, total_length=steps)[0]

            return packed
        return lambda: layer(x, lengths=lengths)[0]

    forwards, backwards = {}, {}
    for name, layer in layers.items():
        params = [x, *layer.parameters()]
        context = functools.partial(precision, device, dtype)
        forwards[name], backwards[name] = timing_pair(runner(name, layer), params, context)
    for mode, fns in (("fwd", forwards), ("fwdbwd", backwards)):
        for name, ms in median_times(fns, repeats, device).items():
            row[f"{name}_{mode}_ms"] = ms
        for name in ("auto", "cells"):
            row[f"{name}_{mode}_ratio"] = row[f"{name}_{mode}_ms"] / row[f"torch_{mode}_ms"]
    row["auto_path"] = layers["auto"].explain()
    progress(row)
    return row


def progress(row: dict) -> None:
    """One line on stderr per finished row, to follow a long run."""
    keys = ("device", "dtype", "cell", "impl", "T", "B", "input", "hidden")
    print(" ".join(str(row[key]) for key in keys if key in row), file=sys.stderr, flush=True)


def layers_markdown(rows: list[dict]) -> str:
    """The layers table (or the lengths table: rows with ``min_length``)."""
    padded = any("min_length" in r for r in rows)
    torch_name = "torch.nn packed" if padded else "torch.nn"
    lines = [
        f"| device | cell | T, B, in, hidden | fwd ms: auto / cells / {torch_name} "
        "| fwd auto / torch.nn | fwd cells / torch.nn "
        f"| fwd+bwd ms: auto / cells / {torch_name} | fwd+bwd auto / torch.nn "
        "| fwd+bwd cells / torch.nn |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        device = r["device"] + (" bf16" if r["dtype"] == "bf16" else "")
        size = f"{r['T']}, {r['B']}, {r['input']}, {r['hidden']}"
        if padded:
            size = f"{r['min_length']}..{r['T']}, {r['B']}, {r['input']}, {r['hidden']}"
        cells = [device, r["cell"], size]
        for mode in ("fwd", "fwdbwd"):
            times = " / ".join(f"{r[f'{name}_{mode}_ms']:.2f}" for name in VARIANTS)
            cells += [times, f"{r[f'auto_{mode}_ratio']:.2f}", f"{r[f'cells_{mode}_ratio']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measure_layernorm(device: torch.device, repeats: int, compiled_forward: bool = False) -> dict:
    """Forward and forward+backward ms of ``Recurrent(LayerNormLSTMCell)`` eager and compiled
    (``fullgraph=True, dynamic=True``) and of ``torch.nn.LSTM`` at LAYERNORM_SHAPE, with the
    seconds the compiled layer's first call took (tracing and compiling). The compiled
    layer's inference-mode forward is another graph to compile: timed with
    ``compiled_forward`` only."""
    steps, batch, input_size, hidden_size = LAYERNORM_SHAPE
    eager = seqmodels.Recurrent(seqmodels.LayerNormLSTMCell, input_size, hidden_size).to(device)
    compiled = torch.compile(eager, fullgraph=True, dynamic=True)
    reference = nn.LSTM(input_size, hidden_size).to(device)
    x = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
    row = {"device": device.type, "T": steps, "B": batch, "input": input_size}
    row["hidden"] = hidden_size
    forwards, backwards = {}, {}
    for name, layer, params in (
        ("eager", eager, [x, *eager.parameters()]),
        ("compiled", compiled, [x, *eager.parameters()]),
        ("torch", reference, [x, *reference.parameters()]),
    ):
        forwards[name], backwards[name] = timing_pair(
            lambda layer=layer: layer(x)[0], params, contextlib.nullcontext
        )
    start = time.perf_counter()  # warm up: compile the training graph (and the inference one)
    backwards["compiled"]()
    if compiled_forward:
        forwards["compiled"]()
    else:
        del forwards["compiled"]
    row["compile_s"] = time.perf_counter() - start
    for mode, fns in (("fwd", forwards), ("fwdbwd", backwards)):
        for name, ms in median_times(fns, repeats, device).items():
            row[f"{name}_{mode}_ms"] = ms
        for name in ("eager", "compiled"):
            if f"{name}_{mode}_ms" in row:
                row[f"{name}_{mode}_ratio"] = row[f"{name}_{mode}_ms"] / row[f"torch_{mode}_ms"]
    progress(row)
    return row


def number(row: dict, key: str) -> str:
    """``row[key]`` to two decimals, or a dash where it was not measured."""
    return f"{row[key]:.2f}" if key in row else "–"


def layernorm_markdown(rows: list[dict]) -> str:
    lines = [
        "| device | T, B, in, hidden | fwd ms: eager / compiled / torch.nn.LSTM "
        "| fwd eager / torch.nn | fwd compiled / torch.nn "
        "| fwd+bwd ms: eager / compiled / torch.nn.LSTM "
        "| fwd+bwd eager / torch.nn | fwd+bwd compiled / torch.nn | compile s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r["device"], f"{r['T']}, {r['B']}, {r['input']}, {r['hidden']}"]
        for mode in ("fwd", "fwdbwd"):
            names = ("eager", "compiled", "torch")
            times = " / ".join(number(r, f"{name}_{mode}_ms") for name in names)
            cells += [times, number(r, f"eager_{mode}_ratio"), number(r, f"compiled_{mode}_ratio")]
        cells.append(f"{r['compile_s']:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def char_lm_job(impl: str, overrides: tuple[str, ...] = ()) -> dict:
    """The char LM, batch and optimiser of the ``shakespeare`` experiment, from its composed
    Hydra config with ``model.impl=impl`` (and ``overrides``, for tests)."""
    from hydra import compose, initialize_config_module
    from hydra.utils import instantiate

    from seqmodels.train import CONFIG_PACKAGE

    job = [f"experiment={LM_EXPERIMENT}", f"model.impl={impl}", *overrides]
    with initialize_config_module(CONFIG_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=job)
    return {
        "model": instantiate(cfg.model, vocab_size=LM_VOCAB),
        "optimizer": instantiate(cfg.task.optimizer),  # a partial: optimizer(params)
        "batch": (int(cfg.data.batch_size), int(cfg.data.seq_len)),
        "clip": cfg.trainer.gradient_clip_val,
    }


def measure_char_lm(
    device: torch.device, repeats: int, overrides: tuple[str, ...] = ()
) -> list[dict]:
    """ms per training step of the shakespeare char LM with each ``model.impl`` of LM_IMPLS:
    forward with the state carried from the previous step (detached, truncated BPTT),
    cross-entropy, backward, gradient-norm clipping, the optimiser's step."""
    jobs = {impl: char_lm_job(impl, overrides) for impl in LM_IMPLS}
    weights = jobs["auto"]["model"].state_dict()
    batch, seq_len = jobs["auto"]["batch"]
    tokens = torch.randint(0, LM_VOCAB, (batch, seq_len + 1), device=device)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    steps = {}
    for impl, job in jobs.items():
        model = job["model"].to(device)
        model.load_state_dict(weights)  # same start for all
        model.train()
        optimizer = job["optimizer"](model.parameters())
        carried: list[object] = [None]

        def train_step(model=model, optimizer=optimizer, carried=carried, clip=job["clip"]) -> None:
            logits, state = model(inputs, carried[0])
            carried[0] = (
                tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            )
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()

        steps[impl] = train_step
    times = median_times(steps, repeats, device)
    progress({"device": device.type, "impl": "char LM"})
    rnn = jobs["auto"]["model"].rnn
    rows = []
    for impl in LM_IMPLS:
        ms = times[impl]
        rows.append(
            {
                "device": device.type,
                "impl": impl,
                "layer": qualified_name(jobs[impl]["model"].rnn),
                "hidden": rnn.hidden_size,
                "layers": rnn.num_layers,
                "batch": batch,
                "seq_len": seq_len,
                "ms": ms,
                "tokens_per_s": batch * seq_len / ms * 1e3,
                "ratio": ms / times["torch"],
            }
        )
    return rows


def qualified_name(module: nn.Module) -> str:
    """``seqmodels.LSTM`` or ``torch.nn.LSTM``: where ``module``'s class is public."""
    package = type(module).__module__.split(".")[0]
    return f"{'torch.nn' if package == 'torch' else package}.{type(module).__name__}"


def char_lm_markdown(rows: list[dict]) -> str:
    lines = [
        "| device | model.impl | layer | ms / step | tokens/s | / impl=torch |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['device']} | {r['impl']} | {r['layer']} | {r['ms']:.1f} "
            f"| {r['tokens_per_s']:,.0f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def measure_flops(device: torch.device, repeats: int, dtype: str = "float32") -> dict:
    """GFLOP/s of the largest LSTM's ``impl="auto"`` forward (inference mode) beside those of
    a square MATMUL_SIZE matrix product and of one step's gate product ``(B, I + H) @ (I + H,
    4H)`` on the same device and precision."""
    steps, batch, input_size, hidden_size = SHAPES[0]
    layer = seqmodels.LSTM(input_size, hidden_size).to(device)
    x = torch.randn(steps, batch, input_size, device=device)
    flops = 2 * steps * batch * 4 * hidden_size * (input_size + hidden_size)
    size = MATMUL_SIZE
    mm_dtype = torch.bfloat16 if dtype == "bf16" else torch.float32
    a, b = (torch.randn(size, size, device=device, dtype=mm_dtype) for _ in range(2))
    s, w = (
        torch.randn(batch, input_size + hidden_size, device=device, dtype=mm_dtype),
        torch.randn(input_size + hidden_size, 4 * hidden_size, device=device, dtype=mm_dtype),
    )

    def forward() -> None:
        with torch.inference_mode(), precision(device, dtype):
            layer(x)

    def square() -> None:
        with torch.inference_mode():
            torch.mm(a, b)

    def step() -> None:
        with torch.inference_mode():
            torch.mm(s, w)

    times = median_times({"lstm": forward, "square": square, "step": step}, repeats, device)
    row = {"device": device.type, "dtype": dtype, "T": steps, "B": batch, "input": input_size}
    row.update(hidden=hidden_size, gflop=flops / 1e9, matmul_size=size)
    row["lstm_ms"] = times["lstm"]
    row["lstm_gflops"] = flops / times["lstm"] / 1e6
    row["square_gflops"] = 2 * size**3 / times["square"] / 1e6
    step_flops = 2 * batch * (input_size + hidden_size) * 4 * hidden_size
    row["step_gflops"] = step_flops / times["step"] / 1e6
    row["fraction"] = row["lstm_gflops"] / row["square_gflops"]
    progress(row)
    return row


def flops_markdown(rows: list[dict]) -> str:
    lines = [
        "| device | LSTM T, B, in, hidden | auto fwd ms | GFLOP | achieved GFLOP/s "
        "| square matmul GFLOP/s | one step's gate matmul GFLOP/s | achieved / square |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        device = r["device"] + (" bf16" if r["dtype"] == "bf16" else "")
        lines.append(
            f"| {device} | {r['T']}, {r['B']}, {r['input']}, {r['hidden']} | {r['lstm_ms']:.1f} "
            f"| {r['gflop']:.1f} | {r['lstm_gflops']:.1f} "
            f"| {r['square_gflops']:.1f} ({r['matmul_size']}²) "
            f"| {r['step_gflops']:.1f} ({r['B']}×{r['input'] + r['hidden']} @ "
            f"{r['input'] + r['hidden']}×{4 * r['hidden']}) | {r['fraction']:.0%} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (else ``platform``'s guess)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> list[str]:
    """The settings of the environment that change the timings (OpenMP's wait policy: with
    ``OMP_WAIT_POLICY=PASSIVE`` idle threads sleep instead of spinning, which keeps the
    timings steady on a machine shared with other processes), as ``NAME=value``."""
    names = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")
    return [f"{name}={os.environ[name]}" for name in names if name in os.environ]


def machine(devices: list[str]) -> dict:
    """What the tables ran on: CPU model, cores, torch threads, torch version, GPU, date."""
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join([*environment(), "python", "scripts/benchmark.py", *sys.argv[1:]]),
    }
    if "cuda" in devices:
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def machine_markdown(info: dict, repeats: int) -> str:
    text = (
        f"`{info['command']}` on {info['date']}: {info['cpu']}, {info['cores']} cores, "
        f"{info['threads']} torch threads, torch {info['torch']}"
    )
    if "gpu" in info:
        text += f", {info['gpu']} (CUDA {info['cuda']}, cuDNN {info['cudnn']})"
    return text + f"; medians of {repeats} calls."


class SteppedMinGRUCell(seqmodels.MinGRUCell):
    """minGRU run by the step loop, to time against its scans."""

    scan = RecurrentCell.scan


class ParallelMinGRUCell(seqmodels.MinGRUCell):
    """minGRU always on the parallel scan (the CPU default is the hand-written loop)."""

    def scan(self, projected: Tensor, batch_sizes: list[int], state: Tensor) -> tuple:
        a, b = self.coefficients(projected)  # (L * N, H), equal lengths
        shape = (len(batch_sizes), batch_sizes[0], -1)
        steps = linear_recurrence(a.view(shape), b.view(shape), state)  # (L, N, H)
        return steps.flatten(0, 1), steps[-1]


CELLS = {
    "lstm": seqmodels.LSTMCell,
    "gru": seqmodels.GRUCell,
    "rnn": seqmodels.RNNCell,
    "layernorm_gru": seqmodels.LayerNormGRUCell,  # no torch.nn twin: --regularisers only
}


def step_loop(cell: type[RecurrentCell]) -> type[RecurrentCell]:
    """``cell`` run by its step loop (with recurrent dropout: the masked step loop)."""
    loops = {"scan": RecurrentCell.scan, "masked_scan": RecurrentCell.masked_scan}
    return type(f"Stepped{cell.__name__}", (cell,), loops)


def measure_regularisers(cell: str, shape: tuple[int, int, int, int], repeats: int) -> dict:
    """Training-mode forward+backward ms of a seqmodels layer of ``cell`` with each
    regulariser, and of its step loop without and with recurrent dropout (what the fused scan
    replaces)."""
    steps, batch, input_size, hidden_size = shape
    x = torch.randn(steps, batch, input_size, requires_grad=True)
    row = {"cell": cell, "T": steps, "B": batch, "input": input_size, "hidden": hidden_size}
    fused = CELLS[cell]
    for name, cell_class, options in (
        ("plain", fused, {}),
        ("recurrent_dropout", fused, {"recurrent_dropout": 0.25}),
        ("weight_drop", fused, {"weight_drop": 0.5}),
        ("zoneout", fused, {"zoneout": 0.1}),
        ("plain_steps", step_loop(fused), {}),
        ("recurrent_dropout_steps", step_loop(fused), {"recurrent_dropout": 0.25}),
    ):
        layer = seqmodels.Recurrent(cell_class, input_size, hidden_size, **options)

        def forward_backward(layer: nn.Module = layer) -> None:
            output, _ = layer(x)
            output.sum().backward()

        row[name] = median_time(forward_backward, repeats, torch.device("cpu"))
    return row


def regularisers_markdown(rows: list[dict]) -> str:
    names = ("plain", "recurrent_dropout", "weight_drop", "zoneout")
    lines = [
        "| cell | T, B, in, hidden | fwd+bwd ms: plain / recurrent_dropout / weight_drop / zoneout "
        "| by the step loop: plain / recurrent_dropout | step loop / fused |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        times = " / ".join(f"{r[name]:.1f}" for name in names)
        steps = f"{r['plain_steps']:.1f} / {r['recurrent_dropout_steps']:.1f}"
        ratios = (
            f"{r['plain_steps'] / r['plain']:.2f}x / "
            f"{r['recurrent_dropout_steps'] / r['recurrent_dropout']:.2f}x"
        )
        lines.append(
            f"| {r['cell']} | {r['T']}, {r['B']}, {r['input']}, {r['hidden']} | {times} "
            f"| {steps} | {ratios} |"
        )
    return "\n".join(lines)


def measure_scan(steps: int, repeats: int) -> dict:
    batch, input_size, hidden_size = SCAN_SHAPE
    layers = {
        name: seqmodels.Recurrent(cell, input_size, hidden_size)
        for name, cell in (
            ("default", seqmodels.MinGRUCell),
            ("parallel", ParallelMinGRUCell),
            ("steps", SteppedMinGRUCell),
        )
    }
    for layer in layers.values():
        layer.load_state_dict(layers["default"].state_dict())
    x = torch.randn(steps, batch, input_size, requires_grad=True)
    row = {"T": steps, "B": batch, "input": input_size, "hidden": hidden_size}
    for name, layer in layers.items():

        def forward_backward(layer: nn.Module = layer) -> None:
            output, _ = layer(x)
            output.sum().backward()

        row[f"{name}_fwdbwd_ms"] = median_time(forward_backward, repeats, torch.device("cpu"))
    row["speedup"] = row["steps_fwdbwd_ms"] / row["default_fwdbwd_ms"]
    return row


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def char_lm_matching(cell: str, parameters: int) -> CharLM:
    """The char LM of ``cell`` with LM_MIN_LAYERS layers whose parameter count is closest."""
    models = (
        CharLM(**LM_PRESET, cell=cell, hidden_size=hidden, num_layers=LM_MIN_LAYERS)
        for hidden in range(64, 1025, 8)
    )
    return min(models, key=lambda model: abs(parameter_count(model) - parameters))


def measure_char_lms(repeats: int) -> list[dict]:
    lstm = CharLM(**LM_PRESET, cell="lstm", hidden_size=256)
    count = parameter_count(lstm)
    models = {"lstm": lstm}
    models.update((cell, char_lm_matching(cell, count)) for cell in ("mingru", "minlstm"))
    tokens = torch.randint(0, LM_PRESET["vocab_size"], LM_BATCH)
    rows = []
    for cell, model in models.items():

        def train_step(model: nn.Module = model) -> None:
            logits, _ = model(tokens)
            logits.sum().backward()

        ms = median_time(train_step, repeats, torch.device("cpu"))
        share = matmul_share(train_step)
        rnn = model.rnn
        rows.append(
            {
                "cell": cell,
                "layers": rnn.num_layers,
                "hidden": rnn.hidden_size,
                "parameters": parameter_count(model),
                "ms": ms,
                "matmul_ms": share * ms,
                "tokens_per_s": tokens.numel() / ms * 1e3,
            }
        )
    return rows


def matmul_share(fn: Callable[[], None], calls: int = 3) -> float:
    """The fraction of ``fn``'s CPU time spent in matrix products (``torch.profiler``, self time
    of ``aten::mm``, ``addmm`` and ``bmm`` over all operators)."""
    fn()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(calls):
            fn()
    events = profile.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    products = ("aten::mm", "aten::addmm", "aten::bmm")
    return sum(event.self_cpu_time_total for event in events if event.key in products) / total


def mingru_markdown(scan_rows: list[dict], lm_rows: list[dict]) -> str:
    lines = [
        "| T, B, in, hidden | minGRU fwd+bwd ms: CPU scan (default) / parallel scan / step loop "
        "| step loop / default |",
        "|---|---|---|",
    ]
    for r in scan_rows:
        lines.append(
            f"| {r['T']}, {r['B']}, {r['input']}, {r['hidden']} "
            f"| {r['default_fwdbwd_ms']:.1f} / {r['parallel_fwdbwd_ms']:.1f} "
            f"/ {r['steps_fwdbwd_ms']:.1f} | {r['speedup']:.1f}x |"
        )
    lstm_rate = lm_rows[0]["tokens_per_s"]
    lines += [
        "",
        f"char LM fwd+bwd, batch {LM_BATCH[0]} x {LM_BATCH[1]} tokens:",
        "",
        "| cell | layers x hidden | parameters | ms / batch | of which matmul | tokens/s "
        "| vs LSTM | LSTM ms / this matmul ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lstm_ms = lm_rows[0]["ms"]
    for r in lm_rows:
        lines.append(
            f"| {r['cell']} | {r['layers']} x {r['hidden']} | {r['parameters']:,} "
            f"| {r['ms']:.1f} | {r['matmul_ms']:.1f} | {r['tokens_per_s']:,.0f} "
            f"| {r['tokens_per_s'] / lstm_rate:.2f}x | {lstm_ms / r['matmul_ms']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--cells", nargs="+", default=list(LAYERS), choices=list(CELLS))
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per median")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument(
        "--compiled-forward",
        action="store_true",
        help="layernorm: also compile and time the inference-mode forward (another compile)",
    )
    parser.add_argument(
        "--mingru", action="store_true", help="minGRU scan and char-LM tables instead (CPU)"
    )
    parser.add_argument(
        "--regularisers", action="store_true", help="regulariser table of --cells instead (CPU)"
    )
    args = parser.parse_args()
    twinless = [cell for cell in args.cells if cell not in LAYERS]
    if twinless and not args.regularisers:
        parser.error(
            f"--cells {' '.join(twinless)}: no torch.nn twin to time against; "
            "use them with --regularisers"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.regularisers:
        torch.manual_seed(0)
        rows = [
            measure_regularisers(cell, shape, args.repeats)
            for cell in args.cells
            for shape in SHAPES[:2]
        ]
        print(machine_markdown(machine(["cpu"]), args.repeats))
        print()
        print(regularisers_markdown(rows))
        write_json(args.json, machine(["cpu"]), {"regularisers": rows})
        return
    if args.mingru:
        torch.manual_seed(0)
        scan_rows = [measure_scan(steps, args.repeats) for steps in SCAN_STEPS]
        lm_rows = measure_char_lms(args.repeats)
        print(machine_markdown(machine(["cpu"]), args.repeats))
        print()
        print(mingru_markdown(scan_rows, lm_rows))
        write_json(args.json, machine(["cpu"]), {"scan": scan_rows, "char_lm": lm_rows})
        return
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        parser.error("--devices cuda given but CUDA is not available")
    info = machine(devices)
    print(machine_markdown(info, args.repeats))
    tables = run_parts(args.parts, args.cells, devices, args.repeats, True, args.compiled_forward)
    write_json(args.json, info, tables)


def run_parts(
    parts: list[str],
    cells: list[str],
    devices: list[str],
    repeats: int,
    echo: bool = False,
    compiled_forward: bool = False,
    lm_overrides: tuple[str, ...] = (),
) -> dict[str, list[dict]]:
    """The rows of each of ``parts`` (see PARTS), printing each table as it completes when
    ``echo``."""
    torch.manual_seed(0)
    tables: dict[str, list[dict]] = {}
    for part in parts:
        if part == "layers":
            rows = [
                measure(cell, shape, device, repeats, dtype)
                for device, dtype in settings(devices)
                for cell in cells
                for shape in SHAPES
            ]
            text = layers_markdown(rows)
        elif part == "lengths":
            rows = [
                measure(cell, PADDED_SHAPE, device, repeats, dtype, padded=True)
                for device, dtype in settings(devices)
                for cell in cells
            ]
            text = layers_markdown(rows)
        elif part == "layernorm":
            rows = [
                measure_layernorm(torch.device(device), repeats, compiled_forward)
                for device in devices
            ]
            text = layernorm_markdown(rows)
        elif part == "charlm":
            rows = [
                row
                for device in devices
                for row in measure_char_lm(torch.device(device), repeats, lm_overrides)
            ]
            text = char_lm_markdown(rows)
        else:  # flops
            rows = [measure_flops(device, repeats, dtype) for device, dtype in settings(devices)]
            text = flops_markdown(rows)
        tables[part] = rows
        if echo:
            print(f"\n### {part}\n\n{text}", flush=True)
    return tables


def write_json(path: str | None, info: dict, tables: dict) -> None:
    if path:
        with open(path, "w") as file:
            json.dump({**info, **tables}, file, indent=2)


if __name__ == "__main__":
    main()
