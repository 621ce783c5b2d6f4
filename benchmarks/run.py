"""make bench: run every benchmark, write benchmarks/results/*.json, print a summary table."""

from __future__ import annotations

from benchmarks import attention, lightning_overhead, seq2seq_step, transformer_step, vision
from benchmarks.common import write

BENCHMARKS = {
    "seq2seq_step": seq2seq_step.run,
    "lightning_overhead": lightning_overhead.run,
    "attention": attention.run,
    "transformer_step": transformer_step.run,
    "vision": vision.run,
}


def main() -> None:
    print("| benchmark | ratio | target | seconds |")
    print("|---|---|---|---|")
    for name, run in BENCHMARKS.items():
        result = run()
        write(name, result)
        seconds = next((v for k, v in result.items() if k.startswith("seconds")), {})
        detail = ", ".join(f"{k} {v:.4f}" for k, v in seconds.items()) or f"see results/{name}.json"
        print(f"| {name} | {result['ratio']:.2f} | {result['target']} | {detail} |")


if __name__ == "__main__":
    main()
