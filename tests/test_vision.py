"""Attention over images: the captioner's attention and regulariser, 2D self-attention, metrics."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F

from attnlab.data import BOS, EOS, PAD, Batch
from attnlab.data.digits import WORD0, DigitCanvasDataModule
from attnlab.models import CaptionModule, ImageClassifierModule
from attnlab.nn import Captioner, CNNClassifier, SelfAttention2d, TransformerCaptioner
from attnlab.nn.captioner import doubly_stochastic_penalty
from attnlab.nn.vision import sinusoidal_2d


@pytest.fixture(scope="module")
def canvases() -> Batch:
    dm = DigitCanvasDataModule(train_size=16, val_size=4, test_size=4, min_digits=1, max_digits=3, seed=1)
    dm.setup()
    return dm.datasets["train"].__getitems__(list(range(16)))


def test_attention_over_the_grid_sums_to_one_per_word(canvases):
    net = Captioner(vocab_size=13)
    tgt_in = torch.full_like(canvases.tgt, BOS)
    logits, alpha = net(canvases.src, canvases.src_len, tgt_in, return_attention=True)
    cells = net.grid_size(*canvases.src.shape[-2:])
    assert alpha.shape == (16, canvases.tgt.size(1), cells[0] * cells[1])
    assert torch.allclose(alpha.sum(-1), torch.ones(alpha.shape[:2]), atol=1e-6)
    assert (alpha >= 0).all()
    # decoding step by step sees the same attention as teacher forcing
    net.eval()
    tokens, stepwise = net.greedy(canvases.src, canvases.src_len, 3, BOS)
    _, forced = net(
        canvases.src,
        canvases.src_len,
        torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :2]], 1),
        return_attention=True,
    )
    assert torch.allclose(stepwise, forced, atol=1e-6)
    fixed = Captioner(vocab_size=13, context="fixed")
    assert fixed(canvases.src, canvases.src_len, tgt_in, return_attention=True)[1] is None


def test_the_transformer_captioner_cross_attends_over_the_grid(canvases):
    net = TransformerCaptioner(vocab_size=13).eval()
    tokens, alignment = net.greedy(canvases.src, canvases.src_len, 3, BOS)
    cells = net.grid_size(*canvases.src.shape[-2:])
    assert alignment.shape == (16, 3, cells[0] * cells[1])
    assert torch.allclose(alignment.sum(-1), torch.ones(16, 3), atol=1e-5)
    # the cached step-by-step decoder agrees with one teacher-forced pass over its own output
    tgt_in = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :2]], 1)
    assert torch.equal(net(canvases.src, canvases.src_len, tgt_in).argmax(-1), tokens)


def test_doubly_stochastic_penalty_on_a_hand_made_alpha():
    alpha = torch.tensor(
        [
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # cells 1 and 2 covered once, cell 3 never: 0 + 0 + 1
            [[0.5, 0.5, 0.0], [0.2, 0.2, 0.6]],  # step 2 is padding: (1 - .5)^2 * 2 + 1 = 1.5
        ]
    )
    mask = torch.tensor([[True, True], [True, False]])
    assert doubly_stochastic_penalty(alpha, mask).item() == pytest.approx((1.0 + 1.5) / 2)


def test_the_regulariser_weighs_in_training_only(canvases):
    module = CaptionModule(
        Captioner(vocab_size=13), optimizer=partial(torch.optim.Adam, lr=1e-3), attention_reg=0.5
    )
    nll, penalty = module.losses(canvases)
    assert penalty.item() > 0 and module.loss(canvases).item() == pytest.approx((nll + 0.5 * penalty).item())
    module.eval()  # validation and test: the likelihood alone
    assert module.loss(canvases).item() == pytest.approx(module.losses(canvases)[0].item())
    module.attention_reg = 0.0
    assert module.losses(canvases)[1] is None


@pytest.mark.parametrize("net", [Captioner, TransformerCaptioner])
def test_each_captioner_overfits_a_tiny_batch(canvases, net):
    torch.manual_seed(0)
    module = CaptionModule(net(vocab_size=13), optimizer=partial(torch.optim.Adam, lr=3e-3))
    optimizer = module.configure_optimizers()
    for _ in range(150):
        loss = module.loss(canvases)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()
    preds = module.predict(canvases)
    scored = canvases.tgt != PAD
    assert torch.equal(preds[scored], canvases.tgt[scored])


def test_2d_self_attention_is_equivariant_to_permuting_cells_without_positions():
    torch.manual_seed(0)
    block = SelfAttention2d(channels=16)
    with torch.no_grad():
        block.gamma.fill_(1.0)  # gamma = 0 (its start) would make the block the identity
    x = torch.randn(2, 16, 3, 5)
    perm = torch.randperm(15)
    permuted = x.flatten(2)[:, :, perm].reshape_as(x)
    y, _ = block(x)
    y_permuted, _ = block(permuted)
    assert torch.allclose(y_permuted.flatten(2), y.flatten(2)[:, :, perm], atol=1e-5)
    assert not torch.allclose(y, x, atol=1e-3)  # the block did something
    # positions added first break the equivariance
    pos = sinusoidal_2d(16, 3, 5)
    y, _ = block(x + pos)
    y_permuted, _ = block(permuted + pos)
    assert not torch.allclose(y_permuted.flatten(2), y.flatten(2)[:, :, perm], atol=1e-3)


def test_2d_self_attention_weights_match_the_fast_path():
    torch.manual_seed(0)
    block = SelfAttention2d(channels=16, num_heads=4)
    with torch.no_grad():
        block.gamma.fill_(0.7)
    x = torch.randn(2, 16, 4, 6)
    fast, none = block(x)
    slow, weights = block(x, need_weights=True)
    assert none is None and weights.shape == (2, 24, 24)
    assert torch.allclose(fast, slow, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 24), atol=1e-6)


def test_caption_metrics_match_hand_computed_values():
    module = CaptionModule(Captioner(vocab_size=13), optimizer=partial(torch.optim.Adam, lr=1e-3))
    one, two, three = WORD0 + 1, WORD0 + 2, WORD0 + 3
    tgt = torch.tensor([[one, two, EOS], [three, EOS, PAD]])
    preds = torch.tensor([[one, two, one], [three, two, one]])  # right digits, both miss EOS
    batch = Batch(torch.zeros(2, 1, 24, 72), torch.tensor([2, 1]), tgt, torch.tensor([3, 2]))
    module.log = module.log_dict = lambda *args, **kwargs: None  # no trainer here
    module.update_metrics("test", preds, batch)
    assert module.test_extra["digit_accuracy"].compute().item() == pytest.approx(1.0)  # 3 of 3 digits
    assert module.test_metrics["exact_match"].compute().item() == 0.0
    assert module.test_metrics["token_accuracy"].compute().item() == pytest.approx(3 / 5)
    module.update_metrics("val", tgt.masked_fill(tgt == PAD, EOS), batch)
    assert module.val_bleu.compute().item() == pytest.approx(1.0)


def test_the_classifier_with_and_without_its_block():
    torch.manual_seed(0)
    images, target = torch.rand(8, 1, 24, 72), torch.randint(0, 5, (8,))
    with_block = CNNClassifier(num_classes=5)
    without = CNNClassifier(num_classes=5, self_attention=False)
    assert with_block(images).shape == (8, 5) and without.attention is None
    assert with_block.attention_weights(images).shape == (8, 108, 108)  # a 6 x 18 grid
    module = ImageClassifierModule(with_block, optimizer=partial(torch.optim.Adam, lr=1e-2))
    optimizer = module.configure_optimizers()
    batch = Batch(images, torch.ones(8, dtype=torch.long), target, torch.ones(8, dtype=torch.long))
    for _ in range(60):
        loss = module.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert with_block.attention.gamma.item() != 0.0  # the gate opened
    module.eval()
    assert torch.equal(with_block(images).argmax(-1), target)
    assert F.cross_entropy(with_block(images), target).item() < 0.1
