"""Pure PyTorch building blocks: no Lightning, Hydra or W&B in here."""

from attnlab.nn.attention import AdditiveAttention, DotAttention, GeneralAttention, RNNAttention
from attnlab.nn.seq2seq import Seq2Seq

__all__ = ["AdditiveAttention", "DotAttention", "GeneralAttention", "RNNAttention", "Seq2Seq"]
