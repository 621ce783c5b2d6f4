"""A training step of attnlab's Transformer against torch.nn.Transformer at the same sizes
(pre-norm, with embeddings and the output projection on both sides). Target: ratio <= 1.0."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnlab.nn import Transformer
from benchmarks.common import median_seconds, write

VOCAB, BATCH, LENGTH = 14, 32, 64
SIZES = {"d_model": 128, "num_heads": 4, "num_encoder_layers": 2, "num_decoder_layers": 2, "d_ff": 512}


class TorchTransformer(nn.Module):
    """torch.nn.Transformer with the same embedding and output layer; neither side adds positions."""

    def __init__(self) -> None:
        super().__init__()
        d = SIZES["d_model"]
        self.embed = nn.Embedding(VOCAB, d)
        self.core = nn.Transformer(
            d,
            SIZES["num_heads"],
            SIZES["num_encoder_layers"],
            SIZES["num_decoder_layers"],
            SIZES["d_ff"],
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.out = nn.Linear(d, VOCAB)

    def forward(self, src: Tensor, src_padding: Tensor, tgt_in: Tensor) -> Tensor:
        scale = math.sqrt(self.core.d_model)
        causal = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(1), dtype=torch.bool)
        h = self.core(
            self.embed(src) * scale,
            self.embed(tgt_in) * scale,
            tgt_mask=causal,
            tgt_is_causal=True,
            src_key_padding_mask=src_padding,
            memory_key_padding_mask=src_padding,
        )
        return self.out(h)


def run(repeats: int = 10) -> dict:
    torch.manual_seed(0)
    src = torch.randint(3, VOCAB, (BATCH, LENGTH))
    src_len = torch.randint(LENGTH // 2, LENGTH + 1, (BATCH,))
    src_padding = torch.arange(LENGTH) >= src_len[:, None]
    tgt = torch.randint(3, VOCAB, (BATCH, LENGTH))
    tgt_in = torch.cat([torch.ones(BATCH, 1, dtype=torch.long), tgt[:, :-1]], dim=1)

    ours = Transformer(VOCAB, dropout=0.0, norm="pre", positional="none", **SIZES)
    reference = TorchTransformer()
    optimizers = {m: torch.optim.Adam(m.parameters()) for m in (ours, reference)}

    def step(model: nn.Module, logits: Tensor) -> None:
        loss = F.cross_entropy(logits.transpose(1, 2), tgt)
        optimizers[model].zero_grad()
        loss.backward()
        optimizers[model].step()

    seconds = median_seconds(
        {
            "attnlab": lambda: step(ours, ours(src, src_len, tgt_in)),
            "torch": lambda: step(reference, reference(src, src_padding, tgt_in)),
        },
        repeats,
    )
    return {
        "shape": {"batch": BATCH, "length": LENGTH, **SIZES},
        "seconds_per_step": seconds,
        "ratio": seconds["attnlab"] / seconds["torch"],
        "target": "ratio <= 1.0",
    }


if __name__ == "__main__":
    result = run()
    print(write("transformer_step", result))
    print(result)
