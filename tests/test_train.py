"""End to end: a few real training steps through train.py leave every artifact of a run."""

from __future__ import annotations

import json
import math

import torch
from pytest import approx

from attnlab.data.dates import vocabulary
from helpers import TINY, train_py


def test_a_short_run_leaves_plots_metrics_checkpoint_and_an_offline_wandb_run(tmp_path):
    run_dir = tmp_path / "run"
    result = train_py(*TINY, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]

    plots = sorted((run_dir / "plots").glob("alignment_step*.png"))
    assert [p.name for p in plots] == ["alignment_step000006.png", "alignment_step000012.png"]

    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("test/exact_match", "test/token_accuracy", "test/loss"):
        assert 0 <= metrics[key] <= (1 if "loss" not in key else 100)
    per_length = {k for k in metrics if k.startswith("test/exact_match@len=")}
    assert per_length == {"test/exact_match@len=4", "test/exact_match@len=6", "test/exact_match@len=9"}
    assert "trainer.max_steps=12" in metrics["overrides"]
    assert 0 <= metrics["val/exact_match"] <= 1  # the best validation score: what sweepers optimize

    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == 12 and any(k.startswith("net.") for k in checkpoint["state_dict"])

    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    assert list(wandb_run.glob("run-*.wandb"))
    images = list((wandb_run / "files" / "media" / "images").rglob("*.png"))
    assert len(images) == 2, images
    assert (run_dir / ".hydra" / "config.yaml").is_file()


def test_a_bf16_transformer_run_draws_every_layer_and_head(tmp_path):
    run_dir = tmp_path / "run"
    transformer = [
        "model=transformer",
        "model.net.d_model=16",
        "model.net.num_heads=2",
        "model.net.d_ff=32",
        "model.net.num_encoder_layers=1",
        "model.net.num_decoder_layers=2",
        "trainer.precision=bf16-mixed",
    ]
    tiny = [o for o in TINY if not o.startswith("model.")]
    result = train_py(*tiny, *transformer, "logger=none", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr[-3000:]
    plots = sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    assert plots == [
        "alignment_step000006.png",
        "alignment_step000012.png",
        "attention_heads_step000006.png",
        "attention_heads_step000012.png",
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert "test/exact_match@len=9" in metrics
    assert math.isfinite(metrics["test/loss"]) and math.isfinite(metrics["val/exact_match"])


def test_a_dates_run_plots_characters_of_its_own_vocabulary(tmp_path):
    run_dir = tmp_path / "run"
    tiny = [o for o in TINY if o.startswith(("trainer.", "model.", "~"))]
    result = train_py(
        "data=dates",
        *tiny,
        "data.train_size=256",
        "data.val_size=64",
        "data.test_size=64",
        "logger=none",
        f"hydra.run.dir={run_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((run_dir / "plots").glob("alignment_step*.png"))) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["test/exact_match"] <= 1
    assert any(k.startswith("test/exact_match@len=") for k in metrics)  # by source length


CANVASES = [
    "data=digit_captions",
    "trainer.max_steps=8",
    "trainer.val_check_interval=4",
    "data.train_size=128",
    "data.val_size=32",
    "data.test_size=32",
    "model.net.channels=[4,8]",
    "~callbacks.progress_bar",
]


def test_a_captioning_run_overlays_each_word_s_attention_and_logs_it_to_wandb(tmp_path):
    run_dir = tmp_path / "run"
    result = train_py(
        *CANVASES, "model=captioner", "digits=k1-2", "model.net.hidden_size=32", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    plots = sorted(p.name for p in (run_dir / "plots").glob("*.png"))
    assert plots == ["caption_attention_step000004.png", "caption_attention_step000008.png"]
    (wandb_run,) = (run_dir / "wandb").glob("offline-run-*")
    assert len(list((wandb_run / "files" / "media" / "images").rglob("caption_attention*.png"))) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"test/exact_match@k=1", "test/exact_match@k=2"} <= set(metrics)
    for key in ("test/bleu2", "test/digit_accuracy", "val/exact_match"):
        assert 0 <= metrics[key] <= 1
    assert list((run_dir / "checkpoints").glob("best-step*.ckpt"))  # monitored val/exact_match


def test_a_cnn_selfattn_run_monitors_accuracy_and_draws_query_maps(tmp_path):
    run_dir = tmp_path / "run"
    result = train_py(
        *CANVASES, "model=cnn_selfattn", "data.target=count", "logger=none", f"hydra.run.dir={run_dir}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(list((run_dir / "plots").glob("self_attention_step*.png"))) == 2
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["val/accuracy"] <= 1 and 0 <= metrics["test/accuracy"] <= 1
    assert any(k.startswith("test/accuracy@k=") for k in metrics)
    assert list((run_dir / "checkpoints").glob("best-step*.ckpt"))  # monitored val/accuracy


def test_pretrain_then_fine_tune_from_its_run_directory(tmp_path):
    small = ["model.net.d_model=32", "model.net.num_heads=2", "model.net.num_layers=2", "model.net.d_ff=64"]
    sizes = ["data.train_size=512", "data.val_size=64", "data.test_size=64"]
    steps = ["trainer.max_steps=16", "trainer.val_check_interval=8", "~callbacks.progress_bar", "logger=none"]
    pretrained = tmp_path / "pretrain"
    result = train_py("experiment=pretrain", *small, *sizes, *steps, f"hydra.run.dir={pretrained}")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((pretrained / "metrics.json").read_text())
    assert metrics["test/perplexity"] == approx(math.exp(metrics["test/loss"]), rel=1e-3)
    assert 0 < metrics["test/token_accuracy"] <= 1
    (best,) = (pretrained / "checkpoints").glob("best-*.ckpt")
    assert torch.load(best, weights_only=True)["vocab"] == list(vocabulary())
    assert (pretrained / "plots" / "attention_heads_step000016.png").is_file()

    fine_tuned = tmp_path / "fine_tune"
    transfer = ["downstream=months", "init=pretrained", f"pretrained={pretrained}", "model.freeze=embeddings"]
    result = train_py(*transfer, "model.body_lr=1e-4", *small, *sizes, *steps, f"hydra.run.dir={fine_tuned}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert 0 <= json.loads((fine_tuned / "metrics.json").read_text())["test/accuracy"] <= 1
    log = (fine_tuned / "train.log").read_text()
    assert f"model.init_from: 27 tensors from {pretrained}; new: ['net.head.bias', 'net.head.weight']" in log
