"""A Hugging Face sequence classifier behind `HFTextClassifier`: the same logits as the model
on its own tokenizer's input (special tokens added by the wrapper), and a white-box path on token
embeddings that relaxed-token inversion can differentiate through."""

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


def test_relaxed_tokens_differentiate_through_the_wrapper(tiny_bert):
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
    # the loss moved: gradients reached the token logits through the added special tokens
    assert res.info["loss_history"][0] != res.info["loss_history"][-1]


def test_hf_classifier_rejects_what_it_cannot_wrap(tiny_bert):
    model, tok = tiny_bert
    with pytest.raises(ConfigError, match="get_input_embeddings"):
        HFTextClassifier(torch.nn.Linear(2, 2), tok)
    with pytest.raises(ConfigError, match="AutoTokenizer"):
        HFTextClassifier(model, object())
    clf = HFTextClassifier(model, tok)
    with pytest.raises(ConfigError, match="list of strings"):
        clf("my pin is")
    with pytest.raises(ConfigError, match="inputs_embeds"):
        clf({"inputs_embeds": torch.zeros(1, 3, 5)})
