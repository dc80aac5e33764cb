"""Every defense of the issue is registered with its kind and modalities."""

from mi_core.cli import main
from mi_core.defense import BaseDefense
from mi_core.registry import list_defenses

EXPECTED = {
    "top-k": "output",
    "rounding": "output",
    "label-only": "output",
    "gaussian-noise": "output",
    "laplace-noise": "output",
    "dp-exponential": "output",
    "adversarial-noise": "output",
    "purifier": "output",
    "purifier-cvae": "output",
    "feature-noise": "output",
    "graph-topk": "output",
    "pii-filter": "output",
    "mid": "training",
    "bido": "training",
    "negative-label-smoothing": "training",
    "dp-sgd": "training",
    "tl-dmi": "training",
    "dp-gnn": "training",
    "mc-gpb": "training",
    "dedup": "data",
    "edge-rand": "data",
    "lap-graph": "data",
    "edge-flip": "data",
    "edge-rewire": "data",
}


def test_every_defense_is_registered_with_kind_and_modality():
    rows = {r["name"]: r for r in list_defenses()}
    for name, kind in EXPECTED.items():
        assert name in rows, name
        assert rows[name]["kind"] == kind and rows[name]["modality"] and rows[name]["paper"]
    assert rows["graph-topk"]["modality"] == "graph" and rows["dedup"]["modality"] == "text"


def test_defenses_build_from_config_dicts():
    from mi_core.registry import get_defense

    for name in EXPECTED:
        cls = get_defense(name)
        assert issubclass(cls, BaseDefense)
        d = cls.from_dict({})
        assert d.name == name


def test_mi_list_defenses_shows_kind_and_modality(capsys):
    assert main(["list", "defenses"]) == 0
    out = capsys.readouterr().out
    assert "negative-label-smoothing" in out and "training" in out and "graph" in out
