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
