"""Pure PyTorch building blocks: no Lightning, Hydra or W&B in here."""

from attnlab.nn.attention import MultiHeadAttention
from attnlab.nn.captioner import Captioner, TransformerCaptioner
from attnlab.nn.decoding import IncrementalDecoder
from attnlab.nn.language_model import TransformerClassifier, TransformerLM
from attnlab.nn.rnn_attention import AdditiveAttention, DotAttention, GeneralAttention, RNNAttention
from attnlab.nn.seq2seq import Seq2Seq
from attnlab.nn.transformer import Transformer
from attnlab.nn.vision import CNNClassifier, ConvEncoder, SelfAttention2d

__all__ = [
    "AdditiveAttention",
    "CNNClassifier",
    "Captioner",
    "ConvEncoder",
    "DotAttention",
    "GeneralAttention",
    "IncrementalDecoder",
    "MultiHeadAttention",
    "RNNAttention",
    "Seq2Seq",
    "SelfAttention2d",
    "Transformer",
    "TransformerCaptioner",
    "TransformerClassifier",
    "TransformerLM",
]
