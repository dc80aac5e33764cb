"""The `mi` command line: help, list, run, and errors that name the field."""

import pytest

from mi_core.cli import main


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "mi audit --demo" in out and "list" in out and "run" in out


def test_list_shows_mi_face_with_modality_access_and_paper(capsys):
    assert main(["list", "attacks"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("mi-face"))
    assert "image" in line and "white-box" in line and "Fredrikson" in line


def test_run_with_unknown_field_names_it(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[target]\ncase = "digits-softmax"\naccess = "white-box"\nbugdet = 3\n')
    assert main(["run", "mi-face", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "target.bugdet: unknown field; allowed fields: access, budget, case, device, k" in err


def test_run_with_bad_access_names_allowed_values(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[target]\ncase = "digits-softmax"\naccess = "grey-box"\n')
    assert main(["run", "mi-face", "--config", str(cfg)]) == 2
    assert "target.access: unknown access 'grey-box'; allowed values" in capsys.readouterr().err


def test_run_unknown_attack_lists_installed(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[target]\ncase = "digits-softmax"\n')
    assert main(["run", "no-such-attack", "--config", str(cfg), "--out", str(tmp_path)]) == 2
    assert "unknown attack 'no-such-attack'; installed attacks:" in capsys.readouterr().err


def test_audit_needs_file_or_demo(capsys):
    assert main(["audit"]) == 2
    assert "either a config FILE.toml or --demo" in capsys.readouterr().err


# ------------------------------------------------------------------------- mi run, up front


def _run_file(tmp_path, text):
    path = tmp_path / "run.toml"
    path.write_text(text)
    return str(path)


def test_run_validates_the_file_before_running(tmp_path, capsys, monkeypatch):
    import mi_core.audit.runner as runner

    ran = []
    monkeypatch.setattr(runner, "run_cell", lambda *a, **k: ran.append(a))
    bad = {
        'seed = "x"\n[target]\ncase = "digits-softmax"\n': r"run.toml:1: seed: must be a non",
        '[target]\ncase = "digits-softmax"\naccess = "label-only"\n': (
            "attack 'mi-face' needs white-box access (or stronger); the file grants label-only"
        ),
        '[target]\ncase = "digits-softmax"\n[attack]\nmax_iter = true\n': (
            "run.toml:4: mi-face.config.max_iter: expected int, got True"
        ),
        '[target]\ncase = "digits-softmax"\naccess = "black-box-topk"\nk = 0\n': (
            "run.toml:4: target.k: must be a positive integer, got 0"
        ),
    }
    for text, message in bad.items():
        assert main(["run", "mi-face", "--config", _run_file(tmp_path, text)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    # knowledge the case cannot give: GMI needs a prior or public images
    path = _run_file(tmp_path, '[target]\ncase = "digits-softmax"\n')
    assert main(["run", "gmi", "--config", path]) == 2
    assert "needs knowledge.prior or knowledge.auxiliary" in capsys.readouterr().err
    assert not ran


def test_run_passes_k_and_budget_on(tmp_path, monkeypatch):
    import mi_core.audit.runner as runner

    seen = {}

    def fake(spec, workdir):
        seen.update(spec)
        return {"id": "x", "status": "not-applicable", "message": "stub"}

    monkeypatch.setattr(runner, "run_cell", fake)
    text = (
        'seed = 4\n[target]\ncase = "cohort-tree"\naccess = "black-box-topk"\nk = 2\nbudget = 50\n'
    )
    main(["run", "lomia", "--config", _run_file(tmp_path, text), "--out", str(tmp_path)])
    assert seen["k"] == 2 and seen["budget"] == 50 and seen["seed"] == 4


def test_run_help_config_and_case_options_are_generated_from_the_dataclasses(capsys):
    assert main(["run", "mi-face", "--help-config"]) == 0
    out = capsys.readouterr().out
    assert "max_iter  (int; default" in out and "[attacks.config.mi-face]" in out
    assert main(["list", "cases", "--options", "image-model"]) == 0
    out = capsys.readouterr().out
    for name in ("heldout", "top_n", "max_batch"):
        assert name not in out
    for name in ("target_labels", "eval_model", "eval_model_kwargs", "test_fraction"):
        assert f"  {name}  (" in out
    assert "private  (str | dict[str, Any]; default required)" in out
    assert main(["list", "cases", "--options", "digits-softmax"]) == 0
    assert "Takes no options" in capsys.readouterr().out


def test_every_attack_setting_and_case_option_is_documented():
    """Issue 17's undocumented options (heldout, top_n, max_batch, target_labels, eval_model*,
    test_fraction, features, known, input_format) and every attack's config keys."""
    from mi_core.config import describe_fields
    from mi_core.registry import attack_entries, case_entries

    missing = []
    for name, entry in attack_entries().items():
        missing += [
            f"{name}.{r['name']}" for r in describe_fields(entry.load().Config) if not r["help"]
        ]
    for name, entry in case_entries().items():
        options = getattr(entry.load(), "Options", None)
        if options is not None:
            missing += [f"{name}.{r['name']}" for r in describe_fields(options) if not r["help"]]
    assert not missing, f"undocumented (add them under Attributes: in the docstring): {missing}"
    docs = {
        n: {r["name"] for r in describe_fields(case_entries()[n].load().Options)}
        for n in ("image-model", "hf-causal-lm", "tabular-model")
    }
    assert {"heldout", "top_n", "max_batch"} <= docs["hf-causal-lm"]
    assert {"target_labels", "eval_model", "test_fraction"} <= docs["image-model"]
    assert {"features", "known", "input_format"} <= docs["tabular-model"]


# ----------------------------------------------------------------- mi audit: runs and reruns

AUDIT = """
[audit]
out = "{out}"
[[targets]]
case = "cohort-tree"
access = ["black-box-scores"]
[attacks]
names = ["csmia", "poisoning-inversion"]
"""


def _audit(tmp_path):
    path = tmp_path / "audit.toml"
    path.write_text(AUDIT.format(out=tmp_path / "out"))
    return str(path)


def test_audit_skips_what_does_not_apply_exits_0_and_keeps_a_good_report_over_a_failed_rerun(
    tmp_path, capsys, monkeypatch
):
    import json

    from mi_tabular.attacks.csmia import CSMIA

    path = _audit(tmp_path)
    assert main(["audit", path]) == 0  # poisoning-inversion skipped, the planned cell ran
    out = capsys.readouterr().out
    assert "skipped         cohort-tree · needs knowledge.extra['contribute']" in out
    report = tmp_path / "out" / "report"
    cells = json.loads((report / "results.json").read_text())["cells"]
    assert {c["status"] for c in cells} == {"ok", "not-applicable"}
    assert [c["spec"]["attack"] for c in cells if c.get("skipped")] == ["poisoning-inversion"]
    good = (report / "index.html").read_text()

    def boom(self, view, knowledge, seed):
        raise RuntimeError("boom")

    monkeypatch.setattr(CSMIA, "_run", boom)
    assert main(["audit", path, "--no-resume"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "failed: RuntimeError: boom (traceback in" in err
    assert "the previous report (every cell ran) is kept" in err
    assert (report / "index.html").read_text() == good
    failed = json.loads((tmp_path / "out" / "report-failed" / "results.json").read_text())
    assert "error" in {c["status"] for c in failed["cells"]}


def test_read_only_or_full_output_folder_gives_one_line(tmp_path, capsys, monkeypatch):
    import errno

    import mi_core.audit.config as config
    import mi_core.audit.runner as runner
    import mi_core.report.html as html

    path = tmp_path / "audit.toml"
    path.write_text(AUDIT.replace(', "poisoning-inversion"', "").format(out=tmp_path / "out"))
    real_save = runner.save_cell

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr(runner, "save_cell", full)
    assert main(["audit", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert err.startswith("mi: error: ") and "cannot write the results to" in err
    assert "No space left on device" in err
    monkeypatch.setattr(runner, "save_cell", real_save)
    assert main(["audit", str(path)]) == 0
    capsys.readouterr()

    # the disk turns read-only: a finished audit's rerun keeps the report it cannot rewrite
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "out"))

    monkeypatch.setattr(config.os, "access", lambda *a, **k: False)
    monkeypatch.setattr(html, "atomic_write_text", read_only)
    assert main(["audit", str(path)]) == 0
    err = capsys.readouterr().err
    assert "could not write the report" in err and "kept there unchanged" in err
    assert "Traceback" not in err
    # with cells still to run, the read-only folder is refused before anything runs
    assert main(["audit", str(path), "--no-resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audit.out: cannot write to" in err
    assert (tmp_path / "out" / "report" / "index.html").exists()


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, capsys):
    path = _audit(tmp_path)
    assert main(["audit", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "cell     cohort-tree · csmia · black-box-scores · seed 0" in out
    assert "poisoning-inversion · black-box" not in out
    assert "skipped  cohort-tree · poisoning-inversion: needs" in out
    assert "priors to train: none" in out and "estimated time: about" in out and "rough" in out
    assert not (tmp_path / "out").exists()
