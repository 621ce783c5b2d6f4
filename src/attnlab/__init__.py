"""attnlab: experiments that retrace the path from seq2seq RNNs to Transformers."""

__version__ = "0.1.0"
