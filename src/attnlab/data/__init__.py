"""Generated, seeded tasks and their LightningDataModule."""

from attnlab.data.datamodule import Batch, SequenceDataModule
from attnlab.data.tasks import BOS, EOS, PAD, VOCAB, decoder_inputs, generate

__all__ = ["BOS", "EOS", "PAD", "VOCAB", "Batch", "SequenceDataModule", "decoder_inputs", "generate"]
