"""LightningModules: training and evaluation logic around the networks of attnlab.nn."""

from attnlab.models.classifier import ClassifierModule, TextClassifierModule
from attnlab.models.language_model import LanguageModelModule
from attnlab.models.seq2seq import Seq2SeqModule
from attnlab.models.vision import CaptionModule, ImageClassifierModule

__all__ = [
    "CaptionModule",
    "ClassifierModule",
    "ImageClassifierModule",
    "LanguageModelModule",
    "Seq2SeqModule",
    "TextClassifierModule",
]
