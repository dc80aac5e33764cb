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
            r"audit\.toml:3: audit\.sed: unknown field; allowed fields: deterministic, device, "
            r"out, precision, seed, seeds, shards, title",
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


# ------------------------------------------------------------------------------------------
# malformed input: every one refused when the file is read, with the line, the field and the fix

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mi_core.audit.config import load_audit_config  # noqa: E402
from mi_core.audit.plan import plan_audit  # noqa: E402

TOPK = """\
[audit]
seed = 0

[[targets]]
case = "digits-softmax"
access = ["white-box", "black-box-topk"]
k = 3

[attacks]
names = ["mi-face"]
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TOPK.replace("[audit]\nseed = 0", "audit = 5"), r"^a\.toml:1: audit: must be a table"),
        (TOPK.replace("[audit]", "[x]"), r"^a\.toml:1: \(top level\)\.x: unknown field; allowed"),
        (TOPK.replace("seed = 0", "seed = true"), r"a\.toml:2: audit\.seed: .*boolean is not"),
        (TOPK.replace("seed = 0", "shards = true"), r"a\.toml:2: audit\.shards: .*got True"),
        (TOPK.replace("seed = 0", "seeds = 0"), r"a\.toml:2: audit\.seeds: must be a positive"),
        (TOPK.replace("seed = 0", "out = 5"), r"a\.toml:2: audit\.out: must be a folder path"),
        (
            TOPK.replace("seed = 0", 'executor = "ray"'),
            r"a\.toml:2: audit\.executor: unknown field in the file: choose it on the command "
            r"line \(mi audit FILE --executor ray\); allowed fields: deterministic, device, out, "
            r"precision, seed, seeds, shards",
        ),
        (
            TOPK.replace('access = ["white-box", "black-box-topk"]\nk = 3', "access = 5"),
            r"a\.toml:6: targets\[0\]\.access: an access level or a non-empty list",
        ),
        (TOPK.replace("k = 3", "k = 0"), r"a\.toml:7: targets\[0\]\.k: must be a positive"),
        (TOPK.replace("k = 3", "k = true"), r"a\.toml:7: targets\[0\]\.k: .*boolean"),
        (
            TOPK.replace("k = 3", "k = 3\nbudget = false"),
            r"a\.toml:8: targets\[0\]\.budget: .*boolean",
        ),
        (
            TOPK.replace("k = 3\n", ""),
            r"a\.toml:6: targets\[0\]\.k: black-box-topk access needs k",
        ),
        (
            TOPK.replace('"white-box", "black-box-topk"', '"white-box"'),
            r"a\.toml:7: targets\[0\]\.k: k applies to black-box-topk access only",
        ),
        (TOPK.replace("[[targets]]", "[targets]"), r"a\.toml:4: targets: .*\[\[targets\]\]"),
        (TOPK.replace("k = 3", "k = 3\noptions = 3"), r"a\.toml:8: targets\[0\]\.options: must"),
        (
            TOPK.replace("k = 3", 'k = 3\noptions = {model = "x:y"}'),
            r"targets\[0\]\.options: case 'digits-softmax' takes no options",
        ),
        (TOPK + "config = 3\n", r"a\.toml:11: attacks\.config: must be a table"),
        (TOPK.replace('["mi-face"]', "[]"), r"a\.toml:10: attacks\.names: a non-empty list"),
        (
            TOPK.replace('["mi-face"]', '["mi-face", "mi-face"]'),
            r"attacks\.names: \['mi-face'\] listed twice",
        ),
        (
            TOPK + "[attacks.config.gmi]\nsteps = 3\n",
            r"a\.toml:11: attacks\.config\.gmi: 'gmi' is not in attacks\.names",
        ),
        (
            TOPK + "[attacks.config.mi-face]\nmax_iter = true\n",
            r"a\.toml:12: mi-face\.config\.max_iter: expected int, got True",
        ),
        (TOPK + '[defenses]\nname = "top-k"\n', r"a\.toml:11: defenses: .*\[\[defenses\]\]"),
        (
            TOPK + '[[defenses]]\nname = "top-k"\nconfig = 1\n',
            r"a\.toml:13: defenses\[0\]\.config: must be a table",
        ),
    ],
)
def test_malformed_files_name_line_field_and_fix(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_audit_config(text, "a.toml")


def test_an_existing_file_as_out_is_refused(tmp_path):
    (tmp_path / "taken").write_text("x")
    text = TOPK.replace("seed = 0", f'out = "{tmp_path / "taken"}"')
    with pytest.raises(ConfigError, match=r"audit\.out: .*taken is a file, not a folder"):
        parse_audit_config(text, "a.toml")


def test_audit_file_that_is_a_folder_a_pipe_or_latin1_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"is a folder; give the audit file itself"):
        load_audit_config(tmp_path)
    (tmp_path / "latin.toml").write_bytes('[audit]\ntitle = "café"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin\.toml:2: the audit file is not UTF-8 text"):
        load_audit_config(tmp_path / "latin.toml")
    os.mkfifo(tmp_path / "pipe.toml")  # opening it would block: it must be refused unopened
    with pytest.raises(ConfigError, match=r"pipe\.toml: is not a regular file"):
        load_audit_config(tmp_path / "pipe.toml")
    with pytest.raises(ConfigError, match=r"nope\.toml: the audit file does not exist"):
        load_audit_config(tmp_path / "nope.toml")


def test_audit_folder_is_appended_to_sys_path_not_prepended(tmp_path):
    """A ``sklearn.py`` beside an audit file must not shadow scikit-learn."""
    import importlib.util

    (tmp_path / "sklearn.py").write_text("raise RuntimeError('shadowed')\n")
    (tmp_path / "a.toml").write_text(TOPK)
    folder = str(tmp_path.resolve())
    try:
        load_audit_config(tmp_path / "a.toml")
        assert sys.path[-1] == folder and sys.path.index(folder) > 0
        assert not importlib.util.find_spec("sklearn").origin.startswith(folder)
    finally:
        sys.path.remove(folder)


def test_seeds_plan_each_cell_once_per_seed():
    cfg = parse_audit_config(TOPK.replace("seed = 0", "seed = 5\nseeds = 3"), "a.toml")
    cells = plan_cells(cfg)
    assert [c.seed for c in cells] == [5, 6, 7] and len({c.id for c in cells}) == 3
    one = plan_cells(parse_audit_config(TOPK.replace("seed = 0", "seed = 5"), "a.toml"))
    assert [c.seed for c in one] == [5]  # `seed = N` alone: one seed, as before


def test_all_skips_attacks_whose_knowledge_the_case_cannot_give():
    """cohort-tree gives no online data-contribution channel: poisoning-inversion is skipped
    before running, listed once with the reason, and the rest is planned."""
    text = """
        [[targets]]
        case = "cohort-tree"
        access = ["white-box", "black-box-scores", "label-only"]
        [attacks]
        names = "all"
        """
    plan = plan_audit(parse_audit_config(text.replace("        ", ""), "a.toml"))
    assert [s.attack for s in plan.skipped] == ["poisoning-inversion"]
    assert "needs knowledge.extra['contribute'], knowledge.extra['observe']" in (
        plan.skipped[0].reason
    )
    assert "poisoning-inversion" not in {c.attack for c in plan.cells}
    assert {"csmia", "lomia", "fredrikson-tree-wb"} <= {c.attack for c in plan.cells}
    rec = plan.skipped_records()[0]
    assert rec["status"] == "not-applicable" and "skipped before running" in rec["message"]
    assert "poisoning-inversion" in plan.describe() and "estimated time: about" in plan.describe()


def test_knowledge_requirements_match_by_name_and_kind():
    from mi_core.attack import knowledge_satisfied

    assert knowledge_satisfied("prior|auxiliary", {"auxiliary"})
    assert knowledge_satisfied("prior:causal-lm", {"prior:causal-lm", "tokenizer"})
    assert not knowledge_satisfied("prior:prompted-lm", {"prior:causal-lm"})
    assert knowledge_satisfied("prior", {"prior:causal-lm"})  # any kind will do
    assert not knowledge_satisfied("target_labels", {"prior", "auxiliary"})


# ---------------------------------------------------------------------------- property test

VALID = {
    "seed": st.integers(0, 10**6),
    "k": st.integers(1, 9),
}
#: for each field, values it must refuse (booleans are not integers; tables are not strings ...)
BAD = {
    ("audit", "seed"): st.one_of(
        st.booleans(), st.integers(max_value=-1), st.floats(allow_nan=False), st.text(max_size=5)
    ),
    ("audit", "seeds"): st.one_of(st.booleans(), st.integers(max_value=0), st.text(max_size=5)),
    ("audit", "shards"): st.one_of(
        st.booleans(), st.integers(max_value=0), st.floats(allow_nan=False), st.lists(st.integers())
    ),
    ("audit", "out"): st.one_of(st.integers(), st.booleans(), st.just(""), st.lists(st.text())),
    ("audit", "title"): st.one_of(st.integers(), st.booleans(), st.just("  ")),
    ("targets", "budget"): st.one_of(
        st.booleans(), st.integers(max_value=0), st.floats(allow_nan=False), st.text(max_size=4)
    ),
    ("targets", "k"): st.one_of(st.booleans(), st.integers(max_value=0), st.text(max_size=4)),
    ("targets", "access"): st.one_of(
        st.integers(),
        st.booleans(),
        st.just([]),
        st.lists(st.integers(), min_size=1, max_size=2),
        st.text(alphabet="abcxyz-", min_size=1, max_size=8).filter(
            lambda s: (
                s
                not in {
                    "white-box",
                    "whitebox",
                    "black-box",
                    "blackbox",
                    "scores",
                    "label",
                    "labels",
                    "topk",
                    "top-k",
                    "label-only",
                }
            )
        ),
    ),
    ("targets", "case"): st.one_of(st.integers(), st.just("no-such-case"), st.booleans()),
    ("targets", "name"): st.one_of(st.integers(), st.booleans(), st.just("")),
    ("targets", "options"): st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers())),
    ("attacks", "names"): st.one_of(
        st.integers(), st.just([]), st.just(["no-such-attack"]), st.just("some"), st.booleans()
    ),
    ("attacks", "config"): st.one_of(st.integers(), st.text(max_size=3), st.booleans()),
}


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if isinstance(v, int) else json.dumps(v)
    if isinstance(v, str):
        # a TOML basic string: control characters (and DEL) escaped, the rest raw UTF-8 (json's
        # surrogate-pair escapes of characters beyond U+FFFF are not valid TOML)
        body = "".join(
            f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else "\\" + c if c in '"\\' else c
            for c in v
        )
        return f'"{body}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def _audit_file(section, key, value, unknown=None):
    audit = {"seed": 0}
    target = {"case": "digits-softmax", "access": ["white-box", "black-box-topk"], "k": 2}
    attacks = {"names": ["mi-face"]}
    where = {"audit": audit, "targets": target, "attacks": attacks}[section]
    if key is not None:
        where[key] = value
    if unknown is not None:
        where[unknown] = 1
    lines = ["[audit]", *(f"{k} = {_toml_value(v)}" for k, v in audit.items())]
    lines += ["[[targets]]", *(f"{k} = {_toml_value(v)}" for k, v in target.items())]
    lines += ["[attacks]", *(f"{k} = {_toml_value(v)}" for k, v in attacks.items())]
    return "\n".join(lines) + "\n"


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(sorted(BAD)),
    data=st.data(),
    unknown=st.one_of(st.none(), st.from_regex(r"\A[a-z]{1,6}_x\Z").filter(lambda s: s != "k_x")),
)
def test_malformed_audit_files_give_one_named_error_and_no_traceback(
    field, data, unknown, tmp_path, capsys
):
    """Mutate a good audit file (one bad value, perhaps an unknown key too): ``mi audit`` exits
    2 with one line that names the file, the line and the field: never a traceback."""
    from mi_core.cli import main

    section, key = field
    value = data.draw(BAD[field], label=f"{section}.{key}")
    text = _audit_file(section, key, value, unknown)
    path = tmp_path / "audit.toml"
    path.write_text(text)
    assert main(["audit", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert err.startswith(f"mi: error: {path}:"), err
    label = "targets[0]" if section == "targets" else section
    named = [f"{label}.{key}"] + ([f"{label}.{unknown}"] if unknown else [])
    named += ["case 'digits-softmax' takes no options"] if key == "options" else []
    assert any(n in err for n in named), err


@settings(max_examples=30, deadline=None)
@given(
    flag=st.sampled_from(["--shards", "--seed", "--num-cpus"]),
    value=st.one_of(st.integers(-5, 0).map(str), st.sampled_from(["true", "x", "1.5", "", "0x3"])),
)
def test_malformed_command_lines_give_a_named_error(flag, value):
    """Bad numbers on the command line: argparse's one-line error naming the flag (exit 2)."""
    import contextlib
    import io

    from mi_core.cli import main

    if flag == "--seed" and value.lstrip("-").isdigit() and int(value) == 0:
        value = "-1"  # seed 0 is valid
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(["audit", "--demo", "--dry-run", flag, value])
    assert exc.value.code == 2
    last = err.getvalue().strip().splitlines()[-1]
    assert last.startswith(f"mi audit: error: argument {flag}:") and "Traceback" not in last
