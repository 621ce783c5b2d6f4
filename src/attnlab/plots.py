"""Matplotlib figures: alignment matrices, attention over images, accuracy against length and
metrics against the number of labeled examples."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only: no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def alignment_figure(
    examples: Sequence[tuple[Sequence[str], Sequence[str], np.ndarray]],
) -> Figure:
    """One heatmap per example: output tokens (rows) x source tokens (columns).

    Each example is (source tokens, output tokens, weights of shape (outputs, sources)).
    """
    fig, axes = plt.subplots(
        1, len(examples), figsize=(4.2 * len(examples), 4.4), squeeze=False, layout="constrained"
    )
    for ax, (source, output, weights) in zip(axes[0], examples, strict=True):
        ax.set_title(f"{len(source)} source tokens", fontsize=9)
        image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(source)), source, fontsize=7)
        ax.set_yticks(range(len(output)), output, fontsize=7)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="attention weight a_ti")
    return fig


def head_grid_figure(
    maps: dict[str, Sequence[np.ndarray]], tokens: dict[str, tuple[Sequence[str], Sequence[str]]]
) -> Figure:
    """One row per (kind, layer), one column per head: each a heatmap of rows x columns.

    ``maps[kind][layer]`` has shape (heads, rows, cols); ``tokens[kind]`` = (row labels, col labels).
    """
    rows = [(kind, layer) for kind, layers in maps.items() for layer in range(len(layers))]
    heads = max(m.shape[0] for layers in maps.values() for m in layers)
    fig, axes = plt.subplots(
        len(rows), heads, figsize=(2.2 * heads, 2.2 * len(rows)), squeeze=False, layout="constrained"
    )
    for r, (kind, layer) in enumerate(rows):
        row_labels, col_labels = tokens[kind]
        for h in range(heads):
            ax = axes[r, h]
            ax.imshow(maps[kind][layer][h], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.set_xticks(range(len(col_labels)), col_labels, fontsize=5)
            ax.set_yticks(range(len(row_labels)), row_labels, fontsize=5)
            ax.set_title(f"{kind} L{layer} h{h}", fontsize=7)
    return fig


def image_attention_figure(rows: Sequence[tuple[np.ndarray, Sequence[tuple[str, np.ndarray]]]]) -> Figure:
    """One row per image, one panel per map: the image in gray with the map (upsampled to the
    image's size, scaled to its own maximum) overlaid, and the panel's title above it.

    Each row is (image (H, W), [(title, map (H, W)), ...]); the first panel shows the image alone.
    """
    columns = 1 + max(len(panels) for _, panels in rows)
    height, width = rows[0][0].shape
    side = 1.6
    fig, axes = plt.subplots(
        len(rows), columns, figsize=(side * columns * width / height / 2 + 1, side * len(rows)),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for r, (image, panels) in enumerate(rows):
        axes[r, 0].imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
        axes[r, 0].set_title("input", fontsize=8)
        for c, (title, weights) in enumerate(panels, start=1):
            axes[r, c].imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
            axes[r, c].imshow(
                weights / max(float(weights.max()), 1e-12), cmap="jet", alpha=0.45, vmin=0.0, vmax=1.0
            )
            axes[r, c].set_title(title, fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
            if not ax.images:
                ax.set_axis_off()
    return fig


def accuracy_vs_length_figure(
    curves: dict[str, dict[int, float]],
    ylabel: str,
    families: dict[str, str] | None = None,
    xlabel: str = "test input length",
) -> Figure:
    """One line per run: metric against test length. Runs of one family (for example one
    model) share a color; the runs within a family differ by marker and line style."""
    families = families or {label: label for label in curves}
    colors = {f: f"C{i % 10}" for i, f in enumerate(dict.fromkeys(families.values()))}
    seen: dict[str, int] = {}
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for label, points in curves.items():
        family = families.get(label, label)
        k = seen[family] = seen.get(family, -1) + 1
        lengths = sorted(points)
        ax.plot(
            lengths,
            [points[n] for n in lengths],
            label=label,
            color=colors[family],
            marker="osd^v<>p*h"[k % 10],
            linestyle=("-", "--", ":", "-.")[k % 4],
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def metric_vs_size_figure(panels: dict[str, dict[str, dict[int, float]]], xlabel: str) -> Figure:
    """One panel per task: a metric against a size on a log axis (the number of labeled
    examples), one line per arm; an arm keeps its color in every panel."""
    labels = list(dict.fromkeys(label for curves in panels.values() for label in curves))
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), squeeze=False, layout="constrained"
    )
    for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for label, points in curves.items():
            sizes = sorted(points)
            ax.plot(sizes, [points[n] for n in sizes], label=label, color=colors[label], marker="o")
        ax.set_xscale("log")
        ax.set_xticks(sorted({n for points in curves.values() for n in points}))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def save(fig: Figure, path) -> None:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
