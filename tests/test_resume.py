"""The batch order that makes resumes exact. (A killed run resumed end to end: test_faults.py;
resume= errors: test_bad_input.py.)"""

from __future__ import annotations

from attnlab.data.datamodule import ResumableSampler


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
