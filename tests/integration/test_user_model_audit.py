"""Audits of a user's own model through the generic cases (``image-model``, ``tabular-model``,
``graph-model``, ``hf-causal-lm``): a model factory module and data files written to a temporary
folder, an audit file naming them, one cheap attack, and the figure checked beside its
baseline. Each case also rejects bad options with an error naming the field."""

import json
import sys
import textwrap

import numpy as np
import pytest
import torch

from mi_core import ConfigError
from mi_core.audit.config import parse_audit_config
from mi_core.audit.plan import plan_cells
from mi_core.audit.runner import load_case, run_cells
from mi_core.io import save_state_dict


def run_audit(text, tmp_path):
    """Plan and run an audit file's cells (as ``mi audit FILE.toml`` does); their records."""
    cfg = parse_audit_config(textwrap.dedent(text), str(tmp_path / "audit.toml"))
    records = run_cells(plan_cells(cfg), tmp_path / "out", progress=False)
    for r in records:
        assert r["status"] == "ok", r.get("traceback", r.get("message"))
    return records


def toml_options(options):
    """``[targets.options]`` lines for a dict of options (strings, numbers, lists, tables)."""

    def value(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    return "\n".join(f"{k} = {value(v)}" for k, v in options.items())


def figure(record, metric):
    return next(f for f in record["figures"] if f["metric"] == metric)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    # small models train far faster on one thread, above all on a shared, busy machine
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory):
    """A folder on ``sys.path`` for the user's model modules and data files."""
    path = tmp_path_factory.mktemp("user")
    sys.path.insert(0, str(path))
    yield path
    sys.path.remove(str(path))


def write_module(folder, name, source):
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)


# ------------------------------------------------------------------------------------ image

IMAGE_MODEL = """
    import torch
    from torch import nn

    class Softmax(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            return self.fc(x.flatten(1))

    def build(num_classes=10):
        return Softmax(num_classes)
"""


@pytest.fixture(scope="module")
def image_files(user_dir):
    """The user's module and their private digits (``private.npz``)."""
    from mi_vision.data import load_digits

    write_module(user_dir, "user_image_model", IMAGE_MODEL)
    x, y = load_digits()
    np.savez(user_dir / "private.npz", x=x.numpy(), y=y.numpy())
    return user_dir


@pytest.fixture(scope="module")
def image_target(image_files):
    """A softmax regression fitted to the digits (sklearn's LBFGS), its weights copied into the
    user's module and saved as safetensors."""
    import user_image_model
    from sklearn.linear_model import LogisticRegression

    with np.load(image_files / "private.npz") as z:
        x, y = z["x"].reshape(len(z["x"]), -1), z["y"]
    clf = LogisticRegression(C=1.0, max_iter=200).fit(x, y)
    model = user_image_model.build(10)
    model.fc.weight.data = torch.tensor(clf.coef_, dtype=torch.float32)
    model.fc.bias.data = torch.tensor(clf.intercept_, dtype=torch.float32)
    save_state_dict(image_files / "target.safetensors", model.state_dict())
    return image_files


@pytest.mark.slow  # about 20 s: the evaluation model trains on the private images
def test_image_model_audit_mi_face_beats_noise(image_target, tmp_path):
    tmp = image_target
    rec = run_audit(
        f"""
        [[targets]]
        case = "image-model"
        access = ["white-box"]
        [targets.options]
        model = "user_image_model:build"
        model_kwargs = {{num_classes = 10}}
        checkpoint = "{tmp / "target.safetensors"}"
        input_shape = [1, 8, 8]
        num_classes = 10
        private = "{tmp / "private.npz"}"
        target_labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
        eval_epochs = 8

        [attacks]
        names = ["mi-face"]
        [attacks.config.mi-face]
        max_iter = 300
        gamma = 0.0
        """,
        tmp_path,
    )[0]
    top1 = figure(rec, "eval_top1")
    assert top1["baseline"]["name"] == "uniform noise images"
    assert top1["value"] >= 0.5 > top1["baseline"]["value"] + 0.2
    assert rec["utility"]["test_accuracy"] > 0.85


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_shape": [8, 8]}, r"targets\.options\.input_shape: give \[channels"),
        ({"private": "nope.npz"}, r"targets\.options\.private: .*nope\.npz does not exist"),
        ({"modle": "x:y"}, r"targets\.options\.modle: unknown field; allowed fields: .*model"),
        ({"target_labels": [10]}, r"targets\.options\.target_labels: a list of class ids"),
    ],
)
def test_image_model_bad_options_name_the_field(image_files, options, message):
    from mi_vision.user_cases import ImageModelCase

    good = {
        "model": "user_image_model:build",
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "private": str(image_files / "private.npz"),
    }
    with pytest.raises(ConfigError, match=message):
        ImageModelCase.from_options({**good, **options})


def test_image_model_checkpoint_that_does_not_fit_is_named(image_target, tmp_path):
    image_files = image_target
    opts = {
        "model": "user_image_model:build",
        "model_kwargs": {"num_classes": 5},
        "checkpoint": str(image_files / "target.safetensors"),
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "private": str(image_files / "private.npz"),
    }
    with pytest.raises(
        ConfigError,
        match=r"targets\.options\.checkpoint: .* does not fit 'user_image_model:build': shape "
        r"fc\.weight: checkpoint \(10, 64\) vs model \(5, 64\)",
    ):
        load_case("image-model", tmp_path, 0, opts)


def test_image_model_public_folder_becomes_the_attackers_auxiliary_data(image_target, tmp_path):
    image_files = image_target
    from PIL import Image

    from mi_core import Access

    public = tmp_path / "public"
    public.mkdir()
    for i in range(3):
        Image.fromarray(np.full((16, 16), 40 * i, dtype=np.uint8)).save(public / f"{i}.png")
    case = load_case(
        "image-model",
        tmp_path / "work",
        0,
        {
            "model": "user_image_model:build",
            "checkpoint": str(image_files / "target.safetensors"),
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "private": str(image_files / "private.npz"),
            "public": str(public),
            "target_labels": [3, 5],
            "eval_epochs": 1,
        },
    )
    know = case.knowledge(Access.WHITE_BOX)
    assert know.target_labels == [3, 5] and len(know.auxiliary) == 3
    assert tuple(know.auxiliary[0].shape) == (1, 8, 8)  # resized to the target's input
    assert case.utility()["test_accuracy"] > 0.85


# ---------------------------------------------------------------------------------- tabular

TABULAR_MODEL = """
    from pathlib import Path

    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.tree import DecisionTreeClassifier

    def fitted_tree(train_csv):
        frame = pd.read_csv(Path(__file__).parent / train_csv)
        pre = make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        )
        model = make_pipeline(pre, DecisionTreeClassifier(random_state=0))
        return model.fit(frame.drop(columns="disease"), frame["disease"])

    def unfitted():
        return DecisionTreeClassifier()
"""


@pytest.fixture(scope="module")
def tabular_files(user_dir):
    """A survey cohort (``smoker`` sensitive, ``disease`` the label): the user's training CSV,
    the records under attack (300 training records, 300 others, flagged in ``member``) and 400
    public records; the user's module fits a decision tree on the training CSV."""
    from mi_tabular.data import make_cohort, split_for_attack

    write_module(user_dir, "user_tabular_model", TABULAR_MODEL)
    ds = make_cohort(3000, seed=0)
    sp = split_for_attack(ds.frame, auxiliary=400, attacked_in=300, attacked_out=300, seed=0)
    sp.train.to_csv(user_dir / "train.csv", index=False)
    sp.auxiliary.to_csv(user_dir / "public.csv", index=False)
    sp.attacked.assign(member=sp.member.astype(int)).to_csv(user_dir / "records.csv", index=False)
    return user_dir


def tabular_options(folder):
    return {
        "model": "user_tabular_model:fitted_tree",
        "model_kwargs": {"train_csv": "train.csv"},
        "data": str(folder / "records.csv"),
        "sensitive": "smoker",
        "label": "disease",
        "member": "member",
        "auxiliary": str(folder / "public.csv"),
    }


def test_tabular_model_audit_csmia_leaks_training_records(tabular_files, tmp_path):
    audit = """
        [attacks]
        names = ["csmia"]
        [attacks.config.csmia]
        progress = false

        [[targets]]
        case = "tabular-model"
        access = ["black-box-scores"]
        """
    options = toml_options(tabular_options(tabular_files))
    rec = run_audit(textwrap.dedent(audit) + "[targets.options]\n" + options, tmp_path)[0]
    inside = figure(rec, "accuracy_in_training")
    assert inside["baseline"]["name"] == "no-model imputation"
    assert inside["value"] >= inside["baseline"]["value"] + 0.05  # the tree leaks its records
    prior = figure(rec, "accuracy_vs_prior")
    assert prior["value"] >= prior["baseline"]["value"] + 0.05
    assert 0.5 < rec["utility"]["test_accuracy"] < 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"sensitive": None},
            r"targets\.options\.sensitive: required \(str\): the attribute to infer",
        ),
        ({"data": "nope.csv"}, r"targets\.options\.data: .*nope\.csv does not exist"),
        ({"known": "age"}, r"targets\.options\.known: expected list\[str\] \| None, got 'age'"),
        (
            {"input_format": "torch"},
            r"targets\.options\.input_format: unknown value 'torch'; allowed values: 'frame'",
        ),
    ],
)
def test_tabular_model_bad_options_name_the_field(tabular_files, options, message):
    from mi_tabular.user_cases import TabularModelCase

    with pytest.raises(ConfigError, match=message):
        TabularModelCase.from_options({**tabular_options(tabular_files), **options})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"model": "user_tabular_model:unfitted", "model_kwargs": {}},
            r"targets\.options\.model: .* is not fitted",
        ),
        (
            {"sensitive": "smoking"},
            r"targets\.options\.sensitive: .*records\.csv has no column 'smoking'; its columns",
        ),
        ({"known": ["age", "smoker"]}, r"targets\.options\.known: \['smoker'\] are not"),
    ],
)
def test_tabular_model_bad_model_or_columns_are_named(tabular_files, tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        load_case("tabular-model", tmp_path, 0, {**tabular_options(tabular_files), **options})


# ------------------------------------------------------------------------------------ graph

GRAPH_MODEL = """
    import torch.nn.functional as F
    from torch import nn
    from torch_geometric.nn import GCNConv

    class GCN(nn.Module):
        def __init__(self, in_channels, num_classes, hidden=16):
            super().__init__()
            self.conv1 = GCNConv(in_channels, hidden)
            self.conv2 = GCNConv(hidden, num_classes)

        def forward(self, x, edge_index, edge_weight=None):
            h = F.dropout(F.relu(self.conv1(x, edge_index, edge_weight)), 0.5, self.training)
            return self.conv2(h, edge_index, edge_weight)
"""


@pytest.fixture(scope="module")
def graph_files(user_dir):
    """A 400-node stochastic block model saved as a CSR npz (the layout of
    ``mi_graph.data.load_npz``) and the user's GCN trained on it (safetensors)."""
    import scipy.sparse as sp

    from mi_graph.data import sbm_graph
    from mi_graph.training import train_node_classifier

    write_module(user_dir, "user_graph_model", GRAPH_MODEL)
    import user_graph_model

    g = sbm_graph(seed=0)
    n = g.num_nodes
    adj = sp.csr_matrix((np.ones(g.edge_index.shape[1]), g.edge_index.numpy()), shape=(n, n))
    attr = sp.csr_matrix(g.x.numpy())
    np.savez(
        user_dir / "graph.npz",
        **{f"adj_{k}": v for k, v in zip(("data", "indices", "indptr"), adj_arrays(adj))},
        adj_shape=np.array(adj.shape),
        **{f"attr_{k}": v for k, v in zip(("data", "indices", "indptr"), adj_arrays(attr))},
        attr_shape=np.array(attr.shape),
        labels=g.y.numpy(),
    )
    torch.manual_seed(0)
    model = user_graph_model.GCN(g.x.shape[1], 4)
    train_node_classifier(model, g, seed=0, progress=False)
    save_state_dict(user_dir / "gcn.safetensors", model.state_dict())
    return user_dir


def adj_arrays(m):
    return m.data, m.indices, m.indptr


def graph_options(folder):
    return {
        "model": "user_graph_model:GCN",
        "model_kwargs": {"in_channels": 200, "num_classes": 4},
        "checkpoint": str(folder / "gcn.safetensors"),
        "graph": str(folder / "graph.npz"),
        "target_nodes": 100,
    }


def test_graph_model_audit_link_stealing_beats_feature_similarity(graph_files, tmp_path):
    audit = """
        [attacks]
        names = ["link-stealing"]
        [attacks.config.link-stealing]
        setting = 0

        [[targets]]
        case = "graph-model"
        access = ["black-box-scores"]
        """
    options = toml_options(graph_options(graph_files))
    rec = run_audit(textwrap.dedent(audit) + "[targets.options]\n" + options, tmp_path)[0]
    auc = figure(rec, "link_auc")
    assert auc["baseline"]["name"] == "feature-cosine"
    assert auc["value"] >= auc["baseline"]["value"] + 0.1
    assert rec["utility"]["accuracy_all_nodes"] > 0.5


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_nodes": 1}, r"targets\.options\.target_nodes: how many nodes"),
        ({"graph": "cora.csv"}, r"targets\.options\.graph: a CSR \.npz file or an import path"),
        ({"graph": "missing.npz"}, r"targets\.options\.graph: .*missing\.npz does not exist"),
        ({"output": "labels"}, r"targets\.options\.output: one of"),
    ],
)
def test_graph_model_bad_options_name_the_field(graph_files, options, message):
    from mi_graph.user_cases import GraphModelCase

    with pytest.raises(ConfigError, match=message):
        GraphModelCase.from_options({**graph_options(graph_files), **options})


def test_graph_model_too_many_target_nodes_is_named(graph_files, tmp_path):
    with pytest.raises(ConfigError, match=r"targets\.options\.target_nodes: 999 exceeds"):
        load_case("graph-model", tmp_path, 0, {**graph_options(graph_files), "target_nodes": 999})


def test_graph_model_takes_a_pyg_data_by_import_path(user_dir):
    from mi_graph.user_cases import load_graph

    write_module(
        user_dir,
        "user_graph_data",
        """
        import torch
        from torch_geometric.data import Data

        def triangle():
            edges = torch.tensor([[0, 1, 2, 2], [1, 2, 0, 2]])  # directed, with a self-loop
            return Data(x=torch.eye(3), edge_index=edges, y=torch.tensor([0, 1, 0]))
        """,
    )
    g = load_graph("user_graph_data:triangle")
    assert g.num_nodes == 3 and g.edge_index.shape[1] == 6  # undirected, loop dropped
    with pytest.raises(ConfigError, match=r"targets\.options\.graph: .* has no attribute"):
        load_graph("user_graph_data:square")


# ------------------------------------------------------------------------------------- text


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A tiny word-level GPT-2 fine-tuned on 80 sentences and eight phone-number canaries (each
    4 times), saved with ``save_pretrained`` (model and tokenizer) as a user's folder."""
    from faker import Faker
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from mi_text.data import insert_canaries, make_canaries
    from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm

    folder = tmp_path_factory.mktemp("lm")
    fake = Faker()
    fake.seed_instance(2)
    private = [fake.sentence(nb_words=8) for _ in range(80)]
    canaries = make_canaries(8, repetitions=(4,), kinds=("phone",), seed=0)
    docs = insert_canaries(private, canaries, seed=0)
    specials = ["<unk>", "<bos>", "<eos>"]
    words = {w for d in docs for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(d)}
    vocab = {t: i for i, t in enumerate(specials + sorted(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", bos_token="<bos>", eos_token="<eos>"
    )
    lm = CausalLM(tiny_gpt2(len(tok), n_layer=2, n_embd=64, n_positions=64), tok)
    train_causal_lm(lm, docs, LMTrainConfig(epochs=30, lr=4e-3, batch_size=24), progress=False)
    lm.model.save_pretrained(folder)
    tok.save_pretrained(folder)
    secrets = [c.secret for c in canaries]
    (folder / "canaries.txt").write_text("\n".join(secrets) + "\n")
    return folder


def test_hf_causal_lm_audit_extracts_canaries_beyond_the_format_guess(lm_dir, tmp_path):
    audit = f"""
        [attacks]
        names = ["perplexity-extraction"]
        [attacks.config.perplexity-extraction]
        n_samples = 100
        max_new_tokens = 20
        ranking = "perplexity"
        progress = false

        [[targets]]
        case = "hf-causal-lm"
        access = ["black-box-scores"]
        [targets.options]
        model = "{lm_dir}"
        canaries = "{lm_dir / "canaries.txt"}"
        top_n = 5
        """
    rec = run_audit(audit, tmp_path)[0]
    # no reference model given: the baseline is the canary format's random guess, never
    # samples of the target
    prec = figure(rec, "extraction_precision@5")
    assert prec["baseline"]["name"] == "random guess of the canary format"
    assert prec["value"] >= prec["baseline"]["value"] + 0.3, prec
    found = figure(rec, "secret_recall@5")
    assert found["value"] > found["baseline"]["value"], found
    assert figure(rec, "random_generation_recall")["leakage"] == "high"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"canaries": []}, r"targets\.options\.canaries: a non-empty list of strings or a file"),
        ({"canaries": "nope.txt"}, r"targets\.options\.canaries: .*nope\.txt does not exist"),
        ({"canaries": ["my PIN is {12"]}, r"targets\.options\.canaries: .*one pair of braces"),
        ({"model": "./no-such-folder"}, r"targets\.options\.model: \./no-such-folder is not a"),
        ({"top_n": 0}, r"targets\.options\.top_n: a positive integer"),
    ],
)
def test_hf_causal_lm_bad_options_name_the_field(options, message):
    from mi_text.user_cases import HFCausalLMCase

    with pytest.raises(ConfigError, match=message):
        HFCausalLMCase.from_options({"model": "gpt2", "canaries": ["123-456-7890"], **options})


def test_bad_options_are_caught_up_front_with_line_and_field(tmp_path):
    text = textwrap.dedent(
        """
        [[targets]]
        case = "tabular-model"
        [targets.options]
        model = "mypkg:fitted"
        data = "nope.csv"
        sensitive = "smoker"
        """
    )
    with pytest.raises(ConfigError, match=r"audit\.toml:6: targets\[0\]\.options\.data: .*nope"):
        parse_audit_config(text, "audit.toml")


# ----------------------------------------------------------- read-time checks, datasets, plan


def test_tabular_missing_column_is_caught_when_the_file_is_read(tabular_files):
    """Issue 17: ``sensitive = "smokes"`` (no such column) fails when the audit file is read,
    naming the line and the field, before any cell runs."""
    options = toml_options({**tabular_options(tabular_files), "sensitive": "smokes"})
    text = '[[targets]]\ncase = "tabular-model"\n[targets.options]\n' + options + "\n"
    with pytest.raises(
        ConfigError,
        match=r"audit\.toml:7: targets\[0\]\.options\.sensitive: .*records\.csv has no column "
        r"'smokes'; its columns are \[",
    ):
        parse_audit_config(text, "audit.toml")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"features": ["age", "region", "activity", "bmi", "income", "smoker", "disease"]},
            r"targets\.options\.features: the label 'disease' cannot be a model input",
        ),
        ({"member": "age"}, r"targets\.options\.member: column 'age' must hold 0/1"),
        ({"features": ["age", "bmi"]}, r"targets\.options\.sensitive: 'smoker' is not among"),
        (
            {"input_format": "array"},
            r"targets\.options\.model: predict\(\) fails on records of .*check `features`",
        ),
        ({"model": "user_tabular_model:nothing"}, r"has no attribute 'nothing'"),
        ({"model": "os:system"}, r"targets\.options\.model: 'os:system' names Python's standard"),
    ],
)
def test_tabular_model_options_contradicting_the_data_are_named(tabular_files, options, message):
    from mi_tabular.user_cases import TabularModelCase

    with pytest.raises(ConfigError, match=message):
        TabularModelCase.from_options({**tabular_options(tabular_files), **options})


def test_image_model_shapes_and_files_are_checked_when_read(image_target, tmp_path):
    from mi_vision.user_cases import ImageModelCase

    good = {
        "model": "user_image_model:build",
        "checkpoint": str(image_target / "target.safetensors"),
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "private": str(image_target / "private.npz"),
    }
    with pytest.raises(ConfigError, match=r"targets\.options\.num_classes: the model answers"):
        ImageModelCase.from_options({**good, "num_classes": 12, "checkpoint": None})
    with pytest.raises(ConfigError, match=r"'user_image_model:torch' is a module, not an nn"):
        ImageModelCase.from_options({**good, "model": "user_image_model:torch"})
    with pytest.raises(
        ConfigError, match=r"targets\.options\.num_classes: .*expected int, got True"
    ):
        ImageModelCase.from_options({**good, "num_classes": True})
    import os

    os.mkfifo(tmp_path / "private.npz")  # a named pipe must be refused, not read (it would hang)
    with pytest.raises(ConfigError, match=r"targets\.options\.private: .* not a regular file"):
        ImageModelCase.from_options({**good, "private": str(tmp_path / "private.npz")})
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match=r"targets\.options\.checkpoint: cannot read"):
        ImageModelCase.from_options({**good, "checkpoint": str(tmp_path / "broken.safetensors")})


def test_graph_model_that_does_not_fit_the_graph_is_named_when_read(graph_files):
    from mi_graph.user_cases import GraphModelCase

    opts = {**graph_options(graph_files), "model_kwargs": {"in_channels": 7, "num_classes": 4}}
    opts.pop("checkpoint")
    with pytest.raises(ConfigError, match=r"targets\.options\.model: the model fails on the graph"):
        GraphModelCase.from_options(opts)


def test_user_cases_read_hugging_face_datasets(image_files, tabular_files, tmp_path):
    """Private and public data from a ``save_to_disk`` folder (built here, nothing
    downloaded): images (PIL, resized to the input shape), records and text."""
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    from mi_tabular.user_cases import TabularModelCase
    from mi_text.user_cases import _lines
    from mi_vision.user_cases import ImageModelCase

    with np.load(image_files / "private.npz") as z:
        x, y = z["x"][:60], z["y"][:60]
    images = [Image.fromarray((im[0] * 255).astype(np.uint8)).resize((16, 16)) for im in x]
    ds = datasets.Dataset.from_dict({"img": images, "digit": y.tolist()})
    datasets.DatasetDict({"train": ds}).save_to_disk(tmp_path / "digits")
    case = ImageModelCase.from_options(
        {
            "model": "user_image_model:build",
            "input_shape": [1, 8, 8],
            "num_classes": 10,
            "private": {"dataset": str(tmp_path / "digits"), "image": "img", "label": "digit"},
            "public": {"dataset": str(tmp_path / "digits"), "split": "train", "image": "img"},
        }
    )
    assert tuple(case.x.shape) == (60, 1, 8, 8) and case.y.tolist() == y.tolist()
    assert tuple(case.public.shape) == (60, 1, 8, 8) and float(case.x.max()) <= 1.0
    assert "auxiliary" in case.provides(None)
    with pytest.raises(ConfigError, match=r"targets\.options\.private\.label: the dataset has no"):
        ImageModelCase.from_options(
            {
                "model": "user_image_model:build",
                "input_shape": [1, 8, 8],
                "num_classes": 10,
                "private": {"dataset": str(tmp_path / "digits"), "image": "img"},
            }
        )

    import pandas as pd

    records = pd.read_csv(tabular_files / "records.csv")
    datasets.Dataset.from_pandas(records).save_to_disk(tmp_path / "records")
    tab = TabularModelCase.from_options(
        {**tabular_options(tabular_files), "data": {"dataset": str(tmp_path / "records")}}
    )
    assert len(tab.frame) == len(records) and list(tab.frame["smoker"]) == list(records["smoker"])

    datasets.Dataset.from_dict({"text": ["call 555-0100", "", "pin 1234"]}).save_to_disk(
        tmp_path / "canaries"
    )
    spec = {"canaries": {"dataset": str(tmp_path / "canaries")}}
    assert _lines(spec, "canaries") == ["call 555-0100", "pin 1234"]


@pytest.mark.slow  # about 25 s: the evaluation model and a tiny prior train
def test_image_audit_trains_a_prior_shared_by_two_attacks_once(image_target, tmp_path):
    """GMI and Mirror-b asking for the same prior (kind, data, settings, seed): the dry run
    lists it once, shared; the audit trains it once and the second attack loads it."""
    from mi_core.audit.plan import plan_audit

    tmp = image_target
    with np.load(tmp / "private.npz") as z:
        np.savez(tmp_path / "public.npz", x=z["x"][z["y"] >= 5][:200])
    prior = "{mapping_layers = 2, steps = 20, g_width = 8, d_width = 8, latent_dim = 8}"
    text = f"""
        [[targets]]
        case = "image-model"
        access = ["white-box", "black-box-scores"]
        [targets.options]
        model = "user_image_model:build"
        checkpoint = "{tmp / "target.safetensors"}"
        input_shape = [1, 8, 8]
        num_classes = 10
        private = "{tmp / "private.npz"}"
        public = "{tmp_path / "public.npz"}"
        target_labels = [0, 1]
        eval_epochs = 1

        [attacks]
        names = ["gmi", "mirror-b"]
        [attacks.config.gmi]
        prior = {prior}
        steps = 3
        progress = false
        [attacks.config.mirror-b]
        prior = {prior}
        steps = 1
        population = 4
        elite = 2
        candidates = 20
        p_samples = 50
        progress = false
        """
    cfg = parse_audit_config(textwrap.dedent(text), str(tmp_path / "audit.toml"))
    plan = plan_audit(cfg)
    assert len(plan.priors) == 1 and plan.priors[0]["attacks"] == ["gmi", "mirror-b"]
    assert "once, shared by gmi, mirror-b" in plan.describe()
    records = run_audit(text, tmp_path)
    sources = []
    for rec in records:
        info = json.loads((tmp_path / "out" / "cells" / rec["id"] / "result.json").read_text())
        sources.append(info["info"]["prior_source"])
    assert sources == ["trained", "shared"]
    assert len(list((tmp_path / "out" / "shared").iterdir())) == 1


def test_hf_causal_lm_all_runs_what_applies_and_exits_0(lm_dir, tmp_path, capsys):
    """``names = "all"`` on the user's LM: the attacks whose knowledge the case cannot give are
    skipped before running, each listed once with the reason; the two extraction attacks run
    and the audit exits 0."""
    from mi_core.cli import main

    small = "n_samples = 20\nmax_new_tokens = 8\nprogress = false\n"
    (tmp_path / "audit.toml").write_text(
        f"""[audit]
out = "{tmp_path / "out"}"
[[targets]]
case = "hf-causal-lm"
access = ["black-box-scores"]
[targets.options]
model = "{lm_dir}"
canaries = "{lm_dir / "canaries.txt"}"
top_n = 5
[attacks]
names = "all"
[attacks.config.perplexity-extraction]
{small}[attacks.config.lookahead-extraction]
{small}"""
    )
    assert main(["audit", str(tmp_path / "audit.toml")]) == 0
    out = capsys.readouterr().out
    skipped = [ln for ln in out.splitlines() if ln.startswith("skipped ")]
    assert len(skipped) == 11, out
    assert any("needs `reference` (knowledge.prior (causal-lm))" in ln for ln in skipped)
    assert any("knowledge.target_labels (names)" in ln for ln in skipped)  # pii-prompting
    assert any("knowledge.extra['ngram_index']" in ln for ln in skipped)  # divergence-attack
    assert any("knowledge.prior (chat-lm)" in ln for ln in skipped)  # output2prompt
    results = json.loads((tmp_path / "out" / "report" / "results.json").read_text())
    ran = sorted(c["spec"]["attack"] for c in results["cells"] if c["status"] == "ok")
    assert ran == ["lookahead-extraction", "perplexity-extraction"]
