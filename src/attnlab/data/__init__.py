"""Generated, seeded tasks and their LightningDataModule."""

from attnlab.data.datamodule import Batch, SequenceDataModule
from attnlab.data.tasks import BOS, EOS, PAD, VOCAB, generate

__all__ = ["BOS", "EOS", "PAD", "VOCAB", "Batch", "SequenceDataModule", "generate"]
