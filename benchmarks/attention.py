"""MultiHeadAttention against torch.nn.MultiheadAttention(need_weights=False), forward+backward,
at three shapes (target: ratio <= 1.0); and self-attention time and peak memory as T doubles
from 512 to 8192 (target: memory grows linearly when the weights are not requested)."""

from __future__ import annotations

import json
import subprocess
import sys

import torch

from attnlab.nn.attention import MultiHeadAttention
from benchmarks.common import median_seconds, write

SHAPES = [  # (batch, length, d_model, heads)
    (64, 64, 128, 4),
    (32, 128, 256, 8),
    (8, 512, 512, 8),
]
LENGTHS = [512, 1024, 2048, 4096, 8192]


def _time_shape(batch: int, length: int, d_model: int, heads: int, repeats: int) -> dict:
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(d_model, heads, batch_first=True)
    ours = MultiHeadAttention.from_torch(reference)
    x = torch.randn(batch, length, d_model, requires_grad=True)

    def step_ours() -> None:
        ours(x, x, x)[0].sum().backward()

    def step_torch() -> None:
        reference(x, x, x, need_weights=False)[0].sum().backward()

    seconds = median_seconds({"attnlab": step_ours, "torch": step_torch}, repeats)
    return {
        "shape": {"batch": batch, "length": length, "d_model": d_model, "heads": heads},
        "seconds": seconds,
        "ratio": seconds["attnlab"] / seconds["torch"],
    }


def parity_timing(repeats: int = 10) -> list[dict]:
    return [_time_shape(*shape, repeats=repeats) for shape in SHAPES]


def _kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


def _measure_one(length: int, need_weights: bool) -> dict:
    """Runs in a fresh process: time and peak memory above the baseline of one self-attention
    forward. Linux: resetting the high-water mark (clear_refs 5) makes VmHWM the op's own peak."""
    torch.manual_seed(0)
    layer = MultiHeadAttention(64, 4).eval()
    x = torch.randn(1, length, 64)
    with torch.no_grad():
        layer(x[:, :8], x[:, :8], x[:, :8], need_weights=need_weights)  # load the kernels
        baseline = _kib("VmRSS:")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        layer(x, x, x, need_weights=need_weights)  # the first call at this size: fresh memory
        peak = _kib("VmHWM:")
        seconds = median_seconds({"f": lambda: layer(x, x, x, need_weights=need_weights)}, 3, warmup=0)
    return {
        "length": length,
        "need_weights": need_weights,
        "seconds": seconds["f"],
        "peak_mib": (peak - baseline) / 1024,
    }


def memory_scaling() -> list[dict]:
    rows = []
    for need_weights in (False, True):
        for length in LENGTHS:
            code = (
                f"import json; from benchmarks.attention import _measure_one; "
                f"print(json.dumps(_measure_one({length}, {need_weights})))"
            )
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def run() -> dict:
    timing = parity_timing()
    scaling = memory_scaling()
    fast = [r for r in scaling if not r["need_weights"]]
    growth = fast[-1]["peak_mib"] / max(fast[0]["peak_mib"], 1e-6)
    return {
        "forward_backward": timing,
        "ratio": max(r["ratio"] for r in timing),
        "memory_scaling": scaling,
        "memory_growth_512_to_8192": growth,  # linear: about 16x; quadratic: about 256x
        "target": "ratio <= 1.0 at every shape; memory growth ~16x (linear) without weights",
    }


if __name__ == "__main__":
    result = run()
    print(write("attention", result))
    print(json.dumps(result, indent=1))
