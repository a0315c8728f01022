"""Speed of seqmodels' layers against torch.nn's: forward and forward+backward medians.

Runs LSTM, GRU and RNN (tanh) at (T, B, input, hidden) = (100, 64, 512, 512), (100, 32, 128, 128)
and (50, 1, 32, 32), on the CPU and on CUDA when present, with the same weights in both, and
prints a markdown table of median times and ratios (seqmodels / torch.nn; lower is better).

    python scripts/benchmark.py                        # everything, markdown to stdout
    python scripts/benchmark.py --json bench.json      # also write the rows as JSON
    python scripts/benchmark.py --cells lstm --devices cpu --repeats 20

``--mingru`` prints two other tables instead (CPU): forward+backward of minGRU's scans (the CPU
default, a hand-written loop; the parallel scan) against its step loop at T = 256, 1024, 4096,
and training tokens per second (forward+backward) of a minGRU and a minLSTM char LM against the
LSTM char LM of the Shakespeare preset, with the minimal cells' hidden size (3 layers) chosen to
match its parameter count. The char-LM table also gives the time of each model's matrix products
(``torch.profiler``'s share of a step times the median) and the LSTM's time over it: the speed-up
over the LSTM that the model would reach if everything but its matrix products took no time.

    python scripts/benchmark.py --mingru --repeats 5

``--regularisers`` prints training-mode forward+backward times of each cell's layer with each
regulariser of :class:`seqmodels.Recurrent` at the two larger sizes, and of the step loops
(plain and masked) that would run without the fused scans:

    python scripts/benchmark.py --regularisers --repeats 10 --cells lstm gru layernorm_gru

(``layernorm_gru``, which has no ``torch.nn`` twin, is timed in this table only.)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

import seqmodels
from seqmodels.cells import RecurrentCell
from seqmodels.fused import linear_recurrence
from seqmodels.models import CharLM

SHAPES = ((100, 64, 512, 512), (100, 32, 128, 128), (50, 1, 32, 32))
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


def median_time(fn: Callable[[], None], repeats: int, device: torch.device) -> float:
    """Median wall time of ``fn`` in milliseconds, after two warm-up calls."""
    times = []
    for index in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= 2:
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(cell: str, shape: tuple[int, int, int, int], device: torch.device, repeats: int):
    steps, batch, input_size, hidden_size = shape
    ours_class, torch_class = LAYERS[cell]
    reference = torch_class(input_size, hidden_size).to(device)
    ours = ours_class(input_size, hidden_size).to(device)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(steps, batch, input_size, device=device, requires_grad=True)
    row = {"cell": cell, "T": steps, "B": batch, "input": input_size, "hidden": hidden_size}
    row["device"] = device.type
    for name, layer in (("seqmodels", ours), ("torch", reference)):

        def forward(layer: nn.Module = layer) -> None:
            with torch.no_grad():
                layer(x)

        def forward_backward(layer: nn.Module = layer) -> None:
            output, _ = layer(x)
            output.sum().backward()

        row[f"{name}_fwd_ms"] = median_time(forward, repeats, device)
        row[f"{name}_fwdbwd_ms"] = median_time(forward_backward, repeats, device)
    row["fwd_ratio"] = row["seqmodels_fwd_ms"] / row["torch_fwd_ms"]
    row["fwdbwd_ratio"] = row["seqmodels_fwdbwd_ms"] / row["torch_fwdbwd_ms"]
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "| device | cell | T, B, in, hidden | fwd ms (seqmodels / torch) | fwd ratio "
        "| fwd+bwd ms (seqmodels / torch) | fwd+bwd ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['device']} | {r['cell']} | {r['T']}, {r['B']}, {r['input']}, {r['hidden']} "
            f"| {r['seqmodels_fwd_ms']:.2f} / {r['torch_fwd_ms']:.2f} | {r['fwd_ratio']:.2f} "
            f"| {r['seqmodels_fwdbwd_ms']:.2f} / {r['torch_fwdbwd_ms']:.2f} "
            f"| {r['fwdbwd_ratio']:.2f} |"
        )
    return "\n".join(lines)


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
    parser.add_argument("--cells", nargs="+", default=list(LAYERS), choices=list(CELLS))
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per median")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
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
        threads = torch.get_num_threads()
        print(f"torch {torch.__version__}, {threads} CPU threads, median of {args.repeats}")
        print(regularisers_markdown(rows))
        return
    if args.mingru:
        torch.manual_seed(0)
        scan_rows = [measure_scan(steps, args.repeats) for steps in SCAN_STEPS]
        lm_rows = measure_char_lms(args.repeats)
        print(
            f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} CPU threads, median of {args.repeats}"
        )
        print(mingru_markdown(scan_rows, lm_rows))
        if args.json:
            with open(args.json, "w") as file:
                rows = {"scan": scan_rows, "char_lm": lm_rows}
                json.dump({"torch": torch.__version__, **rows}, file, indent=2)
        return
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if "cuda" in devices and not torch.cuda.is_available():
        parser.error("--devices cuda given but CUDA is not available")
    torch.manual_seed(0)
    rows = [
        measure(cell, shape, torch.device(device), args.repeats)
        for device in devices
        for cell in args.cells
        for shape in SHAPES
    ]
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} CPU threads, median of {args.repeats}"
    )
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"torch": torch.__version__, "rows": rows}, file, indent=2)


if __name__ == "__main__":
    main()
