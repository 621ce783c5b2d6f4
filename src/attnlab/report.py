"""Summarise a Hydra multirun directory: a Markdown table and an accuracy-vs-length plot.

    attnlab-report multirun/2024-01-01/12-00-00      # or: python -m attnlab.report DIR

Each job directory (``DIR/0``, ``DIR/1``, ...) holds ``.hydra/overrides.yaml`` and, once the
job has finished, ``metrics.json``. Jobs without readable metrics are listed as ``failed``
(with ``error.txt`` when there is one), never dropped. DIR may also be a single run directory.
Writes ``DIR/report.md`` and ``DIR/accuracy_vs_length.png`` (and, when the jobs sweep a size
such as ``data.train_size``, ``DIR/metric_vs_train_size.png``) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import ListConfig, OmegaConf

from attnlab.plots import accuracy_vs_length_figure, metric_vs_size_figure, save

HEADLINE = ["test/exact_match", "test/token_accuracy", "test/accuracy"]
# test/exact_match@len=8 (sequences), test/exact_match@k=3 (captions), test/accuracy@k=3 (classes)
PER_LENGTH = re.compile(r"^test/(exact_match|accuracy)@(len|k)=(\d+)$")
AXES = {"len": "test input length", "k": "digits per canvas"}
PLOT_NAME = "accuracy_vs_length.png"


class NoRunsError(ValueError):
    """The directory holds no job directories."""


@dataclass
class Job:
    name: str
    path: Path
    overrides: dict[str, str]
    metrics: dict[str, float] | None  # None: the job did not finish (or its metrics are unreadable)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.metrics is not None


def _read_overrides(path: Path) -> dict[str, str]:
    items = OmegaConf.load(path) if path.is_file() else []
    pairs = (str(item).partition("=") for item in (items if isinstance(items, ListConfig) else []))
    return {key: value for key, _, value in pairs}


def _read_metrics(path: Path) -> tuple[dict[str, float] | None, str | None]:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "no metrics.json"
    except (OSError, ValueError) as error:
        return None, f"unreadable metrics.json: {error}"
    if not isinstance(record, dict):
        return None, "unreadable metrics.json: not a JSON object"
    numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {k: float(v) for k, v in numbers.items()}, None


def _load_job(path: Path, name: str) -> Job:
    metrics, problem = _read_metrics(path / "metrics.json")
    error_file = path / "error.txt"
    lines = error_file.read_text().strip().splitlines() if error_file.is_file() else []
    overrides = _read_overrides(path / ".hydra" / "overrides.yaml")
    return Job(name, path, overrides, metrics, lines[-1] if lines else problem)


def load_jobs(root: Path) -> list[Job]:
    """All jobs under a multirun directory (numeric order), or the run itself if root is one run."""
    root = Path(root)
    if (root / ".hydra").is_dir():
        return [_load_job(root, root.name)]
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if (d / ".hydra" / "overrides.yaml").is_file()]
    dirs.sort(key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
    return [_load_job(d, d.name) for d in dirs]


def swept_keys(jobs: list[Job]) -> list[str]:
    """Override keys whose values differ between jobs (all keys for a single job), in order."""
    keys = list(dict.fromkeys(k for job in jobs for k in job.overrides))
    if len(jobs) == 1:
        return keys
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def metric_columns(jobs: list[Job]) -> list[str]:
    present = {k for job in jobs if job.metrics for k in job.metrics}
    lengths = sorted((k for k in present if PER_LENGTH.match(k)), key=lambda k: int(PER_LENGTH.match(k)[3]))
    headline = [k for k in HEADLINE if k in present]
    return headline + lengths + sorted(present - set(headline) - set(lengths))


def label(job: Job, keys: list[str]) -> str:
    return ",".join(f"{k}={job.overrides[k]}" for k in keys if k in job.overrides) or job.name


def _cell(value: object) -> str:
    text = "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(jobs: list[Job]) -> str:
    keys, metrics = swept_keys(jobs), metric_columns(jobs)
    any_failed = any(not job.ok for job in jobs)
    header = [*keys, "job", "status", *metrics] + (["error"] if any_failed else [])
    rows = []
    for job in jobs:
        row = [*(job.overrides.get(k) for k in keys), job.name, "ok" if job.ok else "failed"]
        row += [(job.metrics or {}).get(m) for m in metrics]
        row += [None if job.ok else job.error] if any_failed else []
        rows.append(row)
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(_cell(c) for c in line) + " |" for line in lines) + "\n"


def write_report(root: Path) -> str:
    """Write report.md and the accuracy-vs-length plot into root; return the Markdown table."""
    root = Path(root)
    jobs = load_jobs(root)
    if not jobs:
        raise NoRunsError(f"no runs found in {root} (expected job directories with .hydra/overrides.yaml)")
    table = markdown_table(jobs)
    keys, curves, families = swept_keys(jobs), {}, {}
    found = next((m for j in jobs if j.ok for k in j.metrics if (m := PER_LENGTH.match(k))), None)
    metric, axis = (found[1], AXES[found[2]]) if found else ("exact_match", AXES["len"])
    for job in (j for j in jobs if j.ok):
        matches = ((PER_LENGTH.match(k), v) for k, v in job.metrics.items())
        points = {int(m[3]): v for m, v in matches if m and m[1] == metric}
        name = label(job, keys)
        if points:
            name = f"{name} ({job.name})" if name in curves else name
            curves[name] = points
            families[name] = job.overrides.get(keys[0], "") if keys else ""  # one color each
    if curves:
        ylabel = metric.replace("_", " ")
        figure = accuracy_vs_length_figure(curves, ylabel=ylabel, families=families, xlabel=axis)
        save(figure, root / PLOT_NAME)
    image = f"\n![{metric.replace('_', ' ')} vs {axis}]({PLOT_NAME})\n" if curves else ""
    if size := _size_key(jobs, keys):
        name = f"metric_vs_{size.rsplit('.', 1)[-1]}.png"
        save(metric_vs_size_figure(_size_panels(jobs, keys, size), xlabel=size), root / name)
        image = f"\n![test metric vs {size}]({name})\n{image}"
    (root / "report.md").write_text(f"# attnlab report: {root}\n\n{table}{image}")
    return table


def _size_key(jobs: list[Job], keys: list[str]) -> str | None:
    """A swept size (``data.train_size``): the x axis of a second plot."""
    for key in keys:
        values = {job.overrides.get(key, "") for job in jobs}
        if key.endswith("_size") and all(v.isdigit() for v in values):
            return key
    return None


def _size_panels(jobs: list[Job], keys: list[str], size: str) -> dict[str, dict[str, dict[int, float]]]:
    """Each job's headline test metric against ``size``: one panel per value of the first other
    swept key (the task), one line per value of the rest (pretrained or scratch)."""
    others = [k for k in keys if k != size]
    panel_keys, line_keys = (others[:1], others[1:]) if len(others) > 1 else ([], others)
    panels: dict[str, dict[str, dict[int, float]]] = {}
    for job in (j for j in jobs if j.ok):
        metric = next((m for m in HEADLINE if m in job.metrics), None)
        if metric is None:
            continue
        title = " ".join([label(job, panel_keys) if panel_keys else "", metric]).strip()
        line = label(job, line_keys) if line_keys else "runs"
        panels.setdefault(title, {}).setdefault(line, {})[int(job.overrides[size])] = job.metrics[metric]
    return panels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="attnlab-report", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="a Hydra multirun directory (or a single run directory)")
    args = parser.parse_args(argv)
    try:
        table = write_report(args.dir)
    except (NoRunsError, OSError) as error:
        print(f"attnlab-report: {error}", file=sys.stderr)
        return 1
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
