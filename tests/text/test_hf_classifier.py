"""A Hugging Face sequence classifier behind `HFTextClassifier`: the same logits as the model
on its own tokenizer's input (special tokens added by the wrapper, truncation included), and a
white-box path on token embeddings whose gradients reach the real tokens, not the padding."""

import pytest
import torch

from mi_core import ConfigError, Knowledge, make_view
from mi_text.attacks.relaxed_token_inversion import RelaxedTokenInversion
from mi_text.models import HFTextClassifier

transformers = pytest.importorskip("transformers")

WORDS = [
    *["my", "pin", "is", "the", "door", "code", "film", "was", "great", "awful", "."],
    *map(str, range(10)),
]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 2-layer BERT classifier, random weights, with a word-level vocabulary."""
    vocab = tmp_path_factory.mktemp("bert") / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=2,
        initializer_range=0.5,  # untrained but sensitive to its input (the default 0.02 is flat)
    )
    model = transformers.BertForSequenceClassification(cfg).eval()
    return model, tok


def test_strings_give_the_models_own_logits(tiny_bert):
    model, tok = tiny_bert
    clf = HFTextClassifier(model, tok)
    texts = ["my pin is 4 8 1 2 .", "the film was great", "awful"]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        want = model(**enc).logits
        got = clf(texts)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    # the embedding path with the text's own tokens is the same function
    ids, mask = clf.ids(texts)
    with torch.no_grad():
        emb = clf({"inputs_embeds": clf.get_input_embeddings()(ids), "attention_mask": mask})
    torch.testing.assert_close(emb, want, atol=1e-5, rtol=1e-4)


def test_truncation_keeps_room_for_the_special_tokens(tiny_bert):
    model, tok = tiny_bert
    clf = HFTextClassifier(model, tok, max_length=6)
    texts = ["my pin is 4 8 1 2 .", "the film was great"]
    enc = tok(texts, padding=True, truncation=True, max_length=6, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(clf(texts), model(**enc).logits, atol=1e-5, rtol=1e-4)


def test_gradients_reach_real_tokens_and_not_padding(tiny_bert):
    model, tok = tiny_bert
    clf = HFTextClassifier(model, tok)
    ids, mask = clf.ids(["my pin is 4 8 1 2 .", "awful"])
    emb = clf.get_input_embeddings()(ids).detach().requires_grad_()
    clf({"inputs_embeds": emb, "attention_mask": mask})[:, 1].sum().backward()
    per_token = emb.grad.abs().sum(-1)
    assert bool((per_token[mask] > 0).all())
    assert bool((per_token[~mask] == 0).all())


def test_relaxed_tokens_run_through_the_wrapper(tiny_bert):
    model, tok = tiny_bert
    clf = HFTextClassifier(model, tok)
    res = RelaxedTokenInversion(n_tokens=4, suffix=" .", steps=5, restarts=2, progress=False).run(
        make_view(clf, "white-box"),
        Knowledge(
            known_attributes=["my pin is", "the door code is"],
            target_labels=1,
            extra={"candidates": [str(d) for d in range(10)]},
        ),
        seed=0,
    )
    assert res.queries == 5 * 2 * 2 + 2 * 2
    assert res.reconstructions[0].startswith("my pin is ")
    assert all(len(s) == 4 for s in res.info["secrets"])


class _LastTokenClassifier(torch.nn.Module):
    """Reads the last real token as GPT-2's classifier does: from input_ids when it has them,
    else the last position (padding, once right-padded)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def get_input_embeddings(self):
        return self.bert.get_input_embeddings()

    def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None, **_):
        h = self.get_input_embeddings()(input_ids) if inputs_embeds is None else inputs_embeds
        last = (
            attention_mask.sum(1) - 1
            if input_ids is not None
            else torch.full((h.shape[0],), h.shape[1] - 1)
        )
        return (h[torch.arange(h.shape[0]), last][:, :2],)


def test_hf_classifier_rejects_what_it_cannot_wrap(tiny_bert):
    model, tok = tiny_bert
    with pytest.raises(ConfigError, match="get_input_embeddings"):
        HFTextClassifier(torch.nn.Linear(2, 2), tok)
    with pytest.raises(ConfigError, match="AutoTokenizer"):
        HFTextClassifier(model, object())
    with pytest.raises(ConfigError, match="reads the last token"):
        HFTextClassifier(_LastTokenClassifier(model), tok)
    with pytest.raises(ConfigError, match="max_length"):
        HFTextClassifier(model, tok, max_length=2)
    clf = HFTextClassifier(model, tok)
    left_padded = torch.tensor([[False, True, True]])
    with pytest.raises(ConfigError, match="right"):
        clf({"inputs_embeds": torch.zeros(1, 3, 32), "attention_mask": left_padded})
    with pytest.raises(ConfigError, match="list of strings"):
        clf("my pin is")
    with pytest.raises(ConfigError, match="inputs_embeds"):
        clf({"inputs_embeds": torch.zeros(1, 3, 5)})
