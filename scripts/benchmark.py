"""Speed of seqmodels' layers against torch.nn's: forward and forward+backward medians.

Runs LSTM, GRU and RNN (tanh) at (T, B, input, hidden) = (100, 64, 512, 512), (100, 32, 128, 128)
and (50, 1, 32, 32), on the CPU and on CUDA when present, with the same weights in both, and
prints a markdown table of median times and ratios (seqmodels / torch.nn; lower is better).

    python scripts/benchmark.py                        # everything, markdown to stdout
    python scripts/benchmark.py --json bench.json      # also write the rows as JSON
    python scripts/benchmark.py --cells lstm --devices cpu --repeats 20
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import seqmodels

SHAPES = ((100, 64, 512, 512), (100, 32, 128, 128), (50, 1, 32, 32))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=list(LAYERS), choices=list(LAYERS))
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per median")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
