"""The audit file: validated up front, errors name the line and the field; the planner picks the
attacks each granted access allows."""

import pytest

from mi_core import ConfigError
from mi_core.audit.config import parse_audit_config
from mi_core.audit.plan import plan_cells

GOOD = """\
[audit]
title = "Release audit"
seed = 3

[[targets]]
name = "digits"
case = "digits-softmax"
access = ["white-box", "label-only"]
budget = 500

[attacks]
names = "all"
[attacks.config.mi-face]
max_iter = 50
"""


def test_good_file_plans_one_cell_per_applicable_attack():
    cfg = parse_audit_config(GOOD, "audit.toml")
    assert cfg.title == "Release audit" and cfg.seed == 3
    cells = plan_cells(cfg)
    face = next(c for c in cells if c.attack == "mi-face")
    assert face.access == "white-box" and face.budget is None  # budgets bind black-box only
    assert face.config == {"max_iter": 50} and face.target == "digits" and face.seed == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace('access = ["white-box", "label-only"]', 'access = ["grey-box"]'),
            r"audit\.toml:8: targets\[0\]\.access: unknown access 'grey-box'; allowed values",
        ),
        (
            GOOD.replace("budget = 500", "budget = -5"),
            r"audit\.toml:9: targets\[0\]\.budget: must be a positive integer, got -5",
        ),
        (
            GOOD.replace('case = "digits-softmax"', 'case = "nope"'),
            r"audit\.toml:7: targets\[0\]\.case: unknown case 'nope'; installed cases: .*digits",
        ),
        (
            GOOD.replace("max_iter = 50", "max_iter = 0"),
            r"audit\.toml:14: mi-face\.config\.max_iter: must be > 0, got 0",
        ),
        (
            GOOD.replace("max_iter = 50", "max_iters = 50"),
            r"audit\.toml:14: mi-face\.config\.max_iters: unknown field",
        ),
        (
            GOOD.replace('names = "all"', 'names = ["mi-fac"]'),
            r"audit\.toml:12: attacks\.names: unknown attack 'mi-fac'; installed attacks: "
            r".*mi-face",
        ),
        (
            GOOD.replace("seed = 3", "sed = 3"),
            r"audit\.toml:3: audit\.sed: unknown field; allowed fields: out, seed, seeds, shards, title",
        ),
        (
            GOOD + '\n[[defenses]]\nname = "no-such-defense"\n',
            r"audit\.toml:17: defenses\[0\]\.name: unknown defense 'no-such-defense'",
        ),
        ("[audit]\nseed = 1\n", r"audit\.toml: targets: at least one \[\[targets\]\]"),
        ("[[targets]\n", r"audit\.toml: not valid TOML"),
    ],
)
def test_errors_name_line_and_field(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_audit_config(text, "audit.toml")


def test_explicit_attack_without_the_access_gets_a_not_applicable_cell(monkeypatch):
    text = GOOD.replace('access = ["white-box", "label-only"]', 'access = "label-only"')
    text = text.replace('names = "all"', 'names = ["mi-face"]')
    cells = plan_cells(parse_audit_config(text, "a.toml"))
    assert [(c.attack, c.access) for c in cells] == [("mi-face", "label-only")]
    all_text = GOOD.replace('access = ["white-box", "label-only"]', 'access = "label-only"')
    # with MI-Face the only image attack installed, "all" finds none for label-only access
    import mi_core.registry as registry

    only = {k: v for k, v in registry.attack_entries().items() if k == "mi-face"}
    monkeypatch.setattr(registry, "attack_entries", lambda: only)
    with pytest.raises(ConfigError, match="no attack applies"):
        plan_cells(
            parse_audit_config(
                all_text.replace("[attacks.config.mi-face]\nmax_iter = 50\n", ""), "a.toml"
            )
        )
