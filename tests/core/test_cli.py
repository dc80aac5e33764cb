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
    assert "target.bugdet: unknown field; allowed fields: access, budget, case, k" in err


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
