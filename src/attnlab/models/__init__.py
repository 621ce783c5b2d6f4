"""LightningModules: training and evaluation logic around the networks of attnlab.nn."""

from attnlab.models.seq2seq import Seq2SeqModule
from attnlab.models.vision import CaptionModule, ImageClassifierModule

__all__ = ["CaptionModule", "ImageClassifierModule", "Seq2SeqModule"]
