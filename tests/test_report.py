"""attnlab-report on a hand-built Hydra multirun directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from attnlab import report
from attnlab.report import load_jobs, main, markdown_table, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

JOBS = {
    "0": (
        ["model=seq2seq_fixed", "length=len16", "trainer.max_steps=100"],
        {
            "test/exact_match": 0.5,
            "test/token_accuracy": 0.87654,
            "test/loss": 1.23456,
            "test/exact_match@len=16": 0.25,
            "test/exact_match@len=4": 1.0,
            "test/exact_match@len=8": 0.6666,
        },
    ),
    "1": (
        ["model=seq2seq_attention", "length=len32", "trainer.max_steps=100"],
        {
            "test/exact_match": 0.95,
            "test/token_accuracy": 0.99,
            "test/loss": 0.1,
            "test/exact_match@len=4": 1.0,
            "test/exact_match@len=8": 0.9,
            "test/exact_match@len=16": 0.8125,
        },
    ),
    "2": (["model=transformer", "length=len16", "trainer.max_steps=100"], None),
}
ERROR = "RuntimeError: CUDA out of memory | try a smaller batch"


def _write_job(path: Path, overrides: list[str], metrics: dict | None) -> None:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if metrics is not None:
        (path / "metrics.json").write_text(json.dumps(dict(metrics, overrides=overrides)))


@pytest.fixture
def multirun(tmp_path: Path) -> Path:
    root = tmp_path / "multirun"
    for name, (overrides, metrics) in JOBS.items():
        _write_job(root / name, overrides, metrics)
    (root / "2" / "error.txt").write_text(ERROR + "\n")
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def _rows(table: str) -> list[list[str]]:
    """Cells of each line of a Markdown table (header first, separator dropped)."""
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines]
    assert set(cells[1]) == {"---"}
    return [cells[0], *cells[2:]]


def test_table_rows_columns_and_values(multirun: Path) -> None:
    header, *rows = _rows(markdown_table(load_jobs(multirun)))
    assert header == [
        "model", "length", "job", "status",
        "test/exact_match", "test/token_accuracy",
        "test/exact_match@len=4", "test/exact_match@len=8", "test/exact_match@len=16",
        "test/loss", "error",
    ]  # fmt: skip
    assert len(rows) == 3
    assert rows[:2] == [
        ["seq2seq_fixed", "len16", "0", "ok", "0.500", "0.877", "1.000", "0.667", "0.250", "1.235", ""],
        ["seq2seq_attention", "len32", "1", "ok", "0.950", "0.990", "1.000", "0.900", "0.812", "0.100", ""],
    ]
    assert rows[2][:4] == ["transformer", "len16", "2", "failed"]
    assert rows[2][4:10] == [""] * 6
    assert rows[2][10] == ERROR.replace("|", "\\|")


def test_jobs_sorted_numerically(tmp_path: Path) -> None:
    for n in (10, 2, 1):
        _write_job(tmp_path / str(n), [f"seed={n}"], {"test/exact_match": n / 10})
    header, *rows = _rows(markdown_table(load_jobs(tmp_path)))
    assert [r[0] for r in rows] == ["1", "2", "10"]
    assert "error" not in header  # no failed job: no error column
    assert [r[header.index("seed")] for r in rows] == ["1", "2", "10"]


def test_single_run_directory_lists_all_overrides(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write_job(run, ["model=seq2seq_fixed", "seed=3"], {"test/exact_match": 0.25})
    header, *rows = _rows(write_report(run))
    assert header[:4] == ["model", "seed", "job", "status"]
    assert rows == [["seq2seq_fixed", "3", "run", "ok", "0.250"]]  # no empty columns


def test_unreadable_metrics_is_a_failed_row(multirun: Path) -> None:
    (multirun / "1" / "metrics.json").write_text("{not json")
    header, *rows = _rows(markdown_table(load_jobs(multirun)))
    assert [r[header.index("status")] for r in rows] == ["ok", "failed", "failed"]
    assert "unreadable metrics.json" in rows[1][-1]


def test_main_writes_report_and_plot(multirun: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(multirun)]) == 0
    out = capsys.readouterr().out
    _, *rows = _rows(out)
    assert len(rows) == 3
    report = (multirun / "report.md").read_text()
    assert str(multirun) in report.splitlines()[0]
    assert out.strip() in report
    png = (multirun / "accuracy_vs_length.png").read_bytes()
    assert len(png) > 1000 and png.startswith(PNG_MAGIC)


@pytest.mark.parametrize("make_dir", [True, False], ids=["empty", "missing"])
def test_no_runs_is_one_line_and_exit_1(tmp_path: Path, capsys, make_dir: bool) -> None:
    root = tmp_path / "nothing"
    if make_dir:
        root.mkdir()
    assert main([str(root)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("attnlab-report: no runs found in") and str(root) in captured.err
    assert not (root / "report.md").exists()


def test_python_dash_m(multirun: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "attnlab.report", str(multirun)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _, *rows = _rows(done.stdout)
    assert [r[3] for r in rows] == ["ok", "ok", "failed"]
    assert (multirun / "accuracy_vs_length.png").read_bytes().startswith(PNG_MAGIC)


def test_classifier_jobs_plot_accuracy_by_number_of_digits(tmp_path: Path) -> None:
    for name, block in (("0", "true"), ("1", "false")):
        metrics = {
            "test/accuracy": 0.5,
            "test/accuracy@k=1": 0.9,
            "test/accuracy@k=3": 0.2,
            "val/accuracy": 0.6,
        }
        _write_job(tmp_path / name, [f"model.net.self_attention={block}"], metrics)
    write_report(tmp_path)
    header, *rows = _rows((tmp_path / "report.md").read_text())
    assert header[:6] == [
        "model.net.self_attention",
        "job",
        "status",
        "test/accuracy",
        "test/accuracy@k=1",
        "test/accuracy@k=3",
    ]
    assert "test/exact_match" not in header  # only the metrics the jobs have
    assert "![accuracy vs digits per canvas]" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "accuracy_vs_length.png").read_bytes().startswith(PNG_MAGIC)


def test_a_size_sweep_plots_each_task_against_the_number_of_examples(tmp_path, monkeypatch):
    drawn = {}
    real = report.metric_vs_size_figure
    monkeypatch.setattr(
        report, "metric_vs_size_figure", lambda panels, xlabel: real(drawn.update(panels) or panels, xlabel)
    )
    arms = [(t, i, n) for t in ("dates", "months") for i in ("pretrained", "scratch") for n in (100, 1000)]
    for job, (task, init, size) in enumerate(arms):
        metric = "test/exact_match" if task == "dates" else "test/accuracy"
        value = size / 2000 + (0.4 if init == "pretrained" else 0)
        overrides = [f"downstream={task}", f"init={init}", f"data.train_size={size}"]
        _write_job(tmp_path / str(job), overrides, {metric: value, "test/loss": 1.0})
    write_report(tmp_path)
    lines = {"init=pretrained": {100: 0.45, 1000: 0.9}, "init=scratch": {100: 0.05, 1000: 0.5}}
    assert drawn == {"downstream=dates test/exact_match": lines, "downstream=months test/accuracy": lines}
    assert (tmp_path / "metric_vs_train_size.png").read_bytes().startswith(PNG_MAGIC)
    assert (
        "![test metric vs data.train_size](metric_vs_train_size.png)" in (tmp_path / "report.md").read_text()
    )
