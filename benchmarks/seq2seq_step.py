"""Training-step time of attnlab's attention seq2seq against the PyTorch tutorial's per-step loop.

Batch 64, source length 32, hidden 128, CPU. Target: ratio (attnlab / tutorial) <= 1.0.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from attnlab.data import BOS, PAD
from attnlab.nn import Seq2Seq
from benchmarks.common import median_seconds, write
from benchmarks.tutorial_seq2seq import TutorialSeq2Seq

VOCAB, BATCH, LENGTH, HIDDEN, EMBED = 14, 64, 32, 128, 64


def run(repeats: int = 10) -> dict:
    torch.manual_seed(0)
    src = torch.randint(3, VOCAB, (BATCH, LENGTH))
    src_len = torch.full((BATCH,), LENGTH)
    tgt = torch.cat([src.flip(1), torch.full((BATCH, 1), 2)], dim=1)  # reversal + EOS
    tgt_in = torch.cat([torch.full((BATCH, 1), BOS), tgt[:, :-1]], dim=1)

    ours = Seq2Seq(VOCAB, embed_dim=EMBED, hidden_size=HIDDEN)
    tutorial = TutorialSeq2Seq(VOCAB, embed_dim=EMBED, hidden_size=HIDDEN)
    opt_ours = torch.optim.Adam(ours.parameters())
    opt_tutorial = torch.optim.Adam(tutorial.parameters())

    def step_ours() -> None:
        logits = ours(src, src_len, tgt_in)
        loss = F.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=PAD)
        opt_ours.zero_grad()
        loss.backward()
        opt_ours.step()

    def step_tutorial() -> None:
        log_probs = tutorial(src, tgt)
        loss = F.nll_loss(log_probs.transpose(1, 2), tgt, ignore_index=PAD)
        opt_tutorial.zero_grad()
        loss.backward()
        opt_tutorial.step()

    seconds = median_seconds({"attnlab": step_ours, "tutorial": step_tutorial}, repeats)
    return {
        "shape": {"batch": BATCH, "length": LENGTH, "hidden": HIDDEN, "embed": EMBED},
        "seconds_per_step": seconds,
        "ratio": seconds["attnlab"] / seconds["tutorial"],
        "target": "ratio <= 1.0 (aim 0.5)",
    }


if __name__ == "__main__":
    result = run()
    print(write("seq2seq_step", result))
    print(result)
