"""resume=<run dir>: a stopped run continues exactly where it stopped, in the same W&B run."""

from __future__ import annotations

import json

import torch

from attnlab.data.datamodule import ResumableSampler
from attnlab.resume import wandb_run_id
from helpers import TINY, train_py

# 7 batches an epoch, a checkpoint every 5 steps: step 10 is in the middle of the second epoch.
RUN = [o for o in TINY if not o.startswith(("trainer.", "data.train_size"))]
RUN += ["data.train_size=448", "trainer.val_check_interval=5"]


def _state(run_dir):
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)


def test_a_resumed_run_ends_bit_for_bit_where_an_uninterrupted_run_ends(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    for run_dir, steps in ((full, 20), (part, 10)):
        result = train_py(*RUN, f"trainer.max_steps={steps}", f"hydra.run.dir={run_dir}")
        assert result.returncode == 0, result.stderr[-3000:]
    first_id = wandb_run_id(part)
    assert _state(part)["global_step"] == 10

    result = train_py(f"resume={part}", "trainer.max_steps=20")  # continue to 20 in part/
    assert result.returncode == 0, result.stderr[-3000:]

    resumed, uninterrupted = _state(part), _state(full)
    assert resumed["global_step"] == uninterrupted["global_step"] == 20
    for name, weights in uninterrupted["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], weights), name
    metrics = json.loads((part / "metrics.json").read_text())
    assert metrics["test/loss"] == json.loads((full / "metrics.json").read_text())["test/loss"]
    # The same W&B run continues: two offline segments with one id.
    segments = {p.name.rsplit("-", 1)[1] for p in (part / "wandb").glob("offline-run-*")}
    assert segments == {first_id} and len(list((part / "wandb").glob("offline-run-*"))) == 2


def test_the_batch_order_depends_on_seed_and_epoch_only_and_ranks_share_it_out():
    data = list(range(10))
    orders = {}
    for epoch in (0, 1):
        sampler = ResumableSampler(data, num_replicas=1, rank=0, seed=3)
        sampler.set_epoch(epoch)
        orders[epoch] = list(sampler)
        assert sorted(orders[epoch]) == data
        again = ResumableSampler(data, num_replicas=1, rank=0, seed=3)
        again.set_epoch(epoch)
        assert list(again) == orders[epoch]
    assert orders[0] != orders[1]

    shards = [ResumableSampler(data, num_replicas=2, rank=r, seed=3) for r in (0, 1)]
    assert sorted(list(shards[0]) + list(shards[1])) == data

    resumed = ResumableSampler(data, num_replicas=1, rank=0, seed=3, start=4)
    resumed.set_epoch(1)
    assert list(resumed) == orders[1][4:]  # the rest of the epoch it stopped in
    assert list(resumed) == orders[1]  # and whole epochs after that
