"""LightningModules: training and evaluation logic around the networks of attnlab.nn."""

from attnlab.models.seq2seq import Seq2SeqModule

__all__ = ["Seq2SeqModule"]
