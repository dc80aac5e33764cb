"""Paper-scale presets (``benchmarks/run.py vision --preset paper``) name the data they need,
refuse clearly when it is absent, and print the expected GPU time before running anything."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture
def paper():
    sys.path.insert(0, str(BENCH))
    import vision_paper

    yield vision_paper
    sys.path.remove(str(BENCH))


def test_the_vision_preset_refuses_without_its_data_and_says_what_to_get(paper, tmp_path):
    with pytest.raises(SystemExit) as exc:
        paper.run(False, ["--preset", "paper", "--data", str(tmp_path / "celeba")])
    msg = str(exc.value)
    assert f"--data: {tmp_path / 'celeba'} does not exist" in msg
    assert "--generator: not given" in msg
    assert "identity_CelebA.txt" in msg and "1,000 identities" in msg
    with pytest.raises(SystemExit) as exc:
        paper.run(False, ["--dataset", "facescrub", "--data", str(tmp_path)])
    assert "--public: (not given)" in str(exc.value) and "530 identities" in str(exc.value)


def test_run_py_writes_no_result_when_the_preset_refuses(tmp_path):
    sys.path.insert(0, str(BENCH))
    try:
        import run
    finally:
        sys.path.remove(str(BENCH))
    argv = ["vision", "--out", str(tmp_path), "--preset", "paper", "--data", str(tmp_path / "x")]
    with pytest.raises(SystemExit, match="cannot run here"):
        run.main(argv)
    assert not list(tmp_path.glob("*.json"))


def test_the_dry_run_prints_the_expected_gpu_time(paper, tmp_path, capsys):
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    (root / "identity_CelebA.txt").write_text("000001.jpg 1\n")
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "prior.json").write_text("{}")
    argv = ["--data", str(root), "--generator", str(gen), "--attacks", "gmi,brep-mi", "--dry-run"]
    with pytest.raises(SystemExit) as exc:
        paper.run(False, argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "expected GPU time for 1000 identities of celeba" in out
    assert "gmi" in out and "1500 steps" in out and "brep-mi" in out and "total" in out
    with pytest.raises(SystemExit, match=r"--attacks: unknown \['nope'\]"):
        paper.run(False, [*argv[:4], "--attacks", "nope"])


@pytest.fixture
def bench():
    sys.path.insert(0, str(BENCH))
    yield
    sys.path.remove(str(BENCH))


def test_the_graph_preset_refuses_without_its_files_and_estimates_when_they_are_there(
    bench, tmp_path, capsys
):
    import graph_paper

    with pytest.raises(SystemExit) as exc:
        graph_paper.run(False, ["--preset", "paper", "--data", str(tmp_path)])
    msg = str(exc.value)
    assert "graph --preset paper cannot run here" in msg
    assert f"{tmp_path / 'cora.npz'} is missing" in msg and "GraphMI" in msg
    (tmp_path / "cora.npz").write_bytes(b"")
    with pytest.raises(SystemExit) as exc:
        graph_paper.run(
            False, ["--preset", "paper", "--data", str(tmp_path), "--datasets", "cora", "--dry-run"]
        )
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "expected GPU time" in out and "3,086,370 pairs" in out


def test_the_text_preset_refuses_without_its_models_and_estimates_when_they_are_there(
    bench, tmp_path, capsys
):
    import text_paper

    with pytest.raises(SystemExit) as exc:
        text_paper.run(False, ["--preset", "paper"])
    msg = str(exc.value)
    assert "--model: not given" in msg and "--reference: not given" in msg
    for d in ("xl", "small"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "config.json").write_text("{}")
    argv = ["--model", str(tmp_path / "xl"), "--reference", str(tmp_path / "small"), "--dry-run"]
    with pytest.raises(SystemExit) as exc:
        text_paper.run(False, argv)
    assert exc.value.code == 0
    assert "200,000 x 256 tokens" in capsys.readouterr().out
