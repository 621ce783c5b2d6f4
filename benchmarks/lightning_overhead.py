"""Lightning's overhead: one epoch through Trainer.fit against a raw PyTorch loop over the same
module and the same data, with the callbacks that every attnlab run adds to each step (the
non-finite loss check costs one host sync a step). Target: ratio (Trainer.fit / raw loop) <= 1.10."""

from __future__ import annotations

import copy
from functools import partial

import lightning as L
import torch

from attnlab.callbacks import FiniteLoss, RandomState
from attnlab.data import SequenceDataModule
from attnlab.models import Seq2SeqModule
from attnlab.nn import Seq2Seq
from benchmarks.common import median_seconds, write

BATCHES, BATCH, LENGTH = 60, 64, 16


def run(repeats: int = 3) -> dict:
    datamodule = SequenceDataModule(
        task="reverse", min_len=LENGTH, max_len=LENGTH, train_size=BATCHES * BATCH, batch_size=BATCH
    )
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    torch.manual_seed(0)
    template = Seq2SeqModule(Seq2Seq(datamodule.vocab_size), optimizer=partial(torch.optim.Adam, lr=1e-3))

    def raw_loop() -> None:
        module = copy.deepcopy(template)
        optimizer = module.configure_optimizers()
        module.train()
        for batch in loader:
            loss = module.loss(batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def lightning_fit() -> None:
        trainer = L.Trainer(
            max_epochs=1,
            accelerator="cpu",
            devices=1,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            callbacks=[FiniteLoss(), RandomState()],  # what every attnlab run adds to each step
        )
        trainer.fit(copy.deepcopy(template), train_dataloaders=loader)

    seconds = median_seconds({"raw_loop": raw_loop, "trainer_fit": lightning_fit}, repeats, warmup=1)
    return {
        "shape": {"batches": BATCHES, "batch": BATCH, "length": LENGTH},
        "seconds_per_epoch": seconds,
        "ratio": seconds["trainer_fit"] / seconds["raw_loop"],
        "target": "ratio <= 1.10",
    }


if __name__ == "__main__":
    result = run()
    print(write("lightning_overhead", result))
    print(result)
