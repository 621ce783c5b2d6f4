"""Pretrained weights in, clear errors out: model.init_from, model.freeze and model.body_lr."""

from __future__ import annotations

import datetime as dt
import math
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from attnlab.checks import ConfigError
from attnlab.data import BOS, EOS, PAD, Batch, decoder_inputs
from attnlab.data.dates import FIRST_DAY, FORMATS, LOCALES, DatesDataModule, render, vocabulary
from attnlab.data.tasks import decode
from attnlab.models import LanguageModelModule, Seq2SeqModule, TextClassifierModule
from attnlab.nn import TransformerClassifier, TransformerLM
from attnlab.transfer import checkpoint_file, load_pretrained

VOCAB = list(vocabulary())
BODY = {"d_model": 32, "num_heads": 2, "num_layers": 2, "d_ff": 64}
ADAM = partial(torch.optim.Adam, lr=1e-2)


def _language_model(**body) -> LanguageModelModule:
    return LanguageModelModule(TransformerLM(len(VOCAB), **{**BODY, **body}), ADAM)


def _classifier(**options) -> TextClassifierModule:
    return TextClassifierModule(TransformerClassifier(12, len(VOCAB), **BODY), ADAM, **options)


def _save(module, path: Path, vocab=VOCAB) -> Path:
    """A checkpoint as Lightning writes it, with the vocabulary attnlab adds."""
    torch.save({"state_dict": module.state_dict(), "vocab": list(vocab)}, path)
    return path


def _batch(target: str, n: int = 64, seed: int = 5) -> Batch:
    data = DatesDataModule(target=target, train_size=n, val_size=1, test_size=1, seed=seed)
    data.setup()
    return data.datasets["train"].__getitems__(list(range(n)))


def _assert_loaded(model, saved: dict, names: list[str]) -> None:
    for name in names:
        assert torch.equal(model.state_dict()[name], saved[name]), name


def test_loading_restores_exactly_the_saved_body_and_leaves_the_new_head(tmp_path):
    pretrained = _language_model()
    path = _save(pretrained, tmp_path / "lm.ckpt")
    model = _classifier()
    head_before = model.net.head.weight.clone()
    loaded = load_pretrained(model, str(path), VOCAB)
    body = [name for name in model.state_dict() if not name.startswith("net.head.")]
    assert sorted(loaded) == sorted(body)
    _assert_loaded(model, pretrained.state_dict(), body)
    assert torch.equal(model.net.head.weight, head_before)  # new: the LM's output layer is left out


def test_a_language_model_fine_tuned_as_one_keeps_its_output_layer_too(tmp_path):
    pretrained = _language_model()
    model = Seq2SeqModule(TransformerLM(len(VOCAB), **BODY), ADAM)
    loaded = load_pretrained(model, str(_save(pretrained, tmp_path / "lm.ckpt")), VOCAB)
    assert sorted(loaded) == sorted(model.state_dict()) and "net.out.weight" in loaded
    _assert_loaded(model, pretrained.state_dict(), loaded)


def test_a_head_of_another_shape_is_new(tmp_path):
    months = _classifier()
    model = TextClassifierModule(TransformerClassifier(7, len(VOCAB), **BODY), ADAM)  # 7 classes
    head_before = model.net.head.weight.clone()
    loaded = load_pretrained(model, str(_save(months, tmp_path / "months.ckpt")), VOCAB)
    assert not any(name.startswith("net.head.") for name in loaded)
    assert torch.equal(model.net.head.weight, head_before)


def test_pretraining_lines_are_laid_out_as_a_source_and_its_target():
    """What makes a pretrained language model a head start for data=dates: its logits over the
    second half of ``x <s> y`` equal the seq2seq model's logits for source x and target y."""
    net = TransformerLM(len(VOCAB), **BODY, positional="learned").eval()
    lines, isos = _batch("text", n=8), _batch("iso", n=8)
    for i in range(8):
        n = int(isos.src_len[i])
        line = lines.tgt[i : i + 1, : int(lines.tgt_len[i])]
        target = line[:, n + 1 :]  # y </s>
        seq2seq = net(isos.src[i : i + 1, :n], isos.src_len[i : i + 1], decoder_inputs(target))
        torch.testing.assert_close(net.language_model(line[:, :-1])[:, n:], seq2seq)


def test_a_run_directory_gives_its_best_checkpoint_else_its_last(tmp_path):
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "last.ckpt").touch()
    assert checkpoint_file(str(tmp_path / "run")) == folder / "last.ckpt"
    (folder / "best-step000500.ckpt").touch()
    assert checkpoint_file(str(tmp_path / "run")) == folder / "best-step000500.ckpt"


def test_online_an_artifact_name_is_downloaded_and_its_checkpoint_used(tmp_path, monkeypatch):
    import wandb

    (tmp_path / "model.ckpt").touch()
    asked = []

    class Artifact:
        def download(self) -> str:
            return str(tmp_path)

    class Api:
        def artifact(self, name: str, type: str) -> Artifact:
            asked.append((name, type))
            return Artifact()

    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setattr(wandb, "Api", Api)
    assert checkpoint_file("me/attnlab/model-abc:best") == tmp_path / "model.ckpt"
    assert asked == [("me/attnlab/model-abc:best", "model")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.ckpt", "no such file or directory"),
        ("entity/attnlab/model-abc:best", "a W&B artifact name needs W&B online (WANDB_MODE=online)"),
        ("empty_dir", "is a directory without checkpoints/best-*.ckpt or last.ckpt"),
        ("garbage.ckpt", "is not a readable checkpoint"),
    ],
)
def test_an_unusable_init_from_is_one_clear_line(spec, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_SWEEP_ID", raising=False)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "garbage.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"^model\.init_from=") as error:
        load_pretrained(_classifier(), spec, VOCAB)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_shapes_that_differ_are_listed_by_name(tmp_path):
    path = _save(_language_model(d_model=48, d_ff=96), tmp_path / "wide.ckpt")
    with pytest.raises(ConfigError) as error:
        load_pretrained(_classifier(), str(path), VOCAB)
    message = str(error.value)
    assert "parameters differ in shape (pretrained vs this model)" in message
    assert "net.embed.weight (55, 48) vs (55, 32)" in message.replace(f"({len(VOCAB)},", "(55,")
    assert "net.blocks.1.feed_forward" in message  # every mismatch, not only the first


def test_a_body_deeper_than_the_checkpoint_is_refused(tmp_path):
    path = _save(_language_model(num_layers=1), tmp_path / "shallow.ckpt")
    with pytest.raises(ConfigError, match="lacks .* parameters of this model's body: net.blocks.1"):
        load_pretrained(_classifier(), str(path), VOCAB)


def test_a_checkpoint_deeper_than_the_body_is_refused(tmp_path):
    path = _save(_language_model(num_layers=3), tmp_path / "deep.ckpt")
    with pytest.raises(ConfigError, match="holds .* parameters this model's body lacks: net.blocks.2"):
        load_pretrained(_classifier(), str(path), VOCAB)


@pytest.mark.parametrize(
    ("vocab", "message"),
    [
        (VOCAB[:-1], f"the data has [{VOCAB[-1]!r}] that the checkpoint lacks"),  # never seen in pretraining
        (VOCAB[:3] + VOCAB[4:] + VOCAB[3:4], "the same symbols in another order"),
    ],
)
def test_another_vocabulary_is_refused(vocab, message, tmp_path):
    path = _save(_language_model(), tmp_path / "lm.ckpt", vocab=vocab)
    with pytest.raises(ConfigError, match="was trained on another vocabulary") as error:
        load_pretrained(_classifier(), str(path), VOCAB)
    assert message in str(error.value)


def _one_step(model, batch: Batch) -> dict[str, torch.Tensor]:
    before = {name: p.detach().clone() for name, p in model.net.named_parameters()}
    optimizer = model.configure_optimizers()
    optimizer.zero_grad()
    model.loss(batch).backward()
    optimizer.step()
    return {name: not torch.equal(p, before[name]) for name, p in model.net.named_parameters()}


@pytest.mark.parametrize(
    ("freeze", "fixed"),
    [("embeddings", ("embed.",)), ("encoder", ("embed.", "blocks.", "final_norm."))],
)
def test_frozen_parameters_stay_while_the_rest_learns(freeze, fixed):
    model = _classifier(freeze=freeze)
    changed = _one_step(model, _batch("month", n=16))
    for name, moved in changed.items():
        assert moved != name.startswith(fixed), (name, moved)
    assert changed["head.weight"]


def test_the_body_learns_at_its_own_rate():
    model = _classifier(body_lr=1e-4)
    groups = model.configure_optimizers().param_groups
    head = {id(p) for p in model.net.head.parameters()}
    assert [g["lr"] for g in groups] == [1e-2, 1e-4]
    assert {id(p) for p in groups[0]["params"]} == head
    assert len(groups[1]["params"]) == len(list(model.net.parameters())) - len(head)


def test_a_corpus_line_writes_the_same_date_twice():
    lines, isos = _batch("text", n=32), _batch("iso", n=32)  # one seed: the same dates, same order
    for line, n, src, iso in zip(lines.tgt, lines.tgt_len, isos.src, isos.tgt, strict=True):
        tokens = line[: int(n)].tolist()
        assert tokens[-1] == EOS and tokens.count(BOS) == 1
        cut = tokens.index(BOS)
        assert tokens[:cut] == src[src != PAD].tolist()
        day = (dt.date.fromisoformat("".join(decode(iso, VOCAB))) - FIRST_DAY).days
        again = "".join(VOCAB[t] for t in tokens[cut + 1 : -1])
        assert again in {render(day, f, loc) for f in FORMATS for loc in LOCALES}


def test_the_classifier_ignores_padding():
    net = TransformerClassifier(12, len(VOCAB), **BODY).eval()
    tokens, lengths = torch.tensor([[1, 10, 11, 12]]), torch.tensor([4])
    padded = torch.cat([tokens, torch.full((1, 5), PAD)], dim=1)
    torch.testing.assert_close(net(tokens, lengths), net(padded, lengths))


@pytest.mark.filterwarnings("ignore:You are trying to:UserWarning")  # self.log without a Trainer
def test_perplexity_and_token_accuracy_match_the_loss_by_hand():
    model = _language_model().eval()
    batch = _batch("text", n=16)
    with torch.no_grad():
        model.evaluate("val", batch)
        logits = model.net.language_model(batch.tgt[:, :-1])
    targets = batch.tgt[:, 1:]  # each next token of the line
    loss = F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD)
    real = targets != PAD
    accuracy = (logits.argmax(-1)[real] == targets[real]).float().mean()
    metrics = model.val_metrics.compute()
    assert metrics["val/perplexity"].item() == pytest.approx(math.exp(loss.item()), rel=1e-4)
    assert metrics["val/token_accuracy"].item() == pytest.approx(accuracy.item(), abs=1e-6)


def test_a_fine_tune_from_pretrained_weights_starts_from_a_lower_loss(tmp_path):
    """A small language model trained on lines that write a date twice (ISO among the formats
    here) already knows how to write a date again: on the same batch of the dates task it starts
    far below a fresh model."""
    torch.manual_seed(0)
    pretrained = _language_model()
    optimizer = pretrained.configure_optimizers()
    corpus = DatesDataModule(target="text", formats=["medium", "dd.MM.yy", "yyyy-MM-dd"], train_size=2048)
    corpus.setup()
    for batch in corpus.train_batches:
        optimizer.zero_grad()
        pretrained.loss(batch).backward()
        optimizer.step()
    path = _save(pretrained, tmp_path / "lm.ckpt")

    def start(init: bool) -> float:
        torch.manual_seed(1)
        model = Seq2SeqModule(TransformerLM(len(VOCAB), **BODY), ADAM)
        if init:
            load_pretrained(model, str(path), VOCAB)
        with torch.no_grad():
            return model.loss(_batch("iso")).item()

    scratch, warm = start(False), start(True)
    assert scratch > math.log(len(VOCAB)) - 0.5  # a fresh model: about uniform over the symbols
    assert warm < scratch - 1.0, (warm, scratch)
