"""Independent versions: a package's sources never change without its version or changelog
moving (against its last release tag ``<package>-vX.Y.Z``), and ``scripts/release PACKAGE PART``
bumps, records, commits, tags and builds one package. The checker and the release script are
tested on temporary git repositories, so that neither passes for want of a tag."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import versioning  # noqa: E402
from versioning import ReleaseError, check_package  # noqa: E402

PACKAGES = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
HAS_GIT = shutil.which("git") is not None and (ROOT / ".git").exists()


def git(repo, *args):
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


# ------------------------------------------------------------------------ this repository


@pytest.mark.skipif(not HAS_GIT, reason="needs a git checkout")
@pytest.mark.parametrize("package", PACKAGES)
def test_changes_since_the_last_release_are_recorded(package):
    check = check_package(ROOT, package)
    if check.status == "no-release":
        pytest.skip(check.message)
    assert check.status in ("unchanged", "ok"), check.message


def test_every_package_keeps_a_changelog_with_its_version():
    for package in PACKAGES:
        text = (ROOT / "packages" / package / "CHANGELOG.md").read_text()
        assert "## Unreleased" in text, package
        version = versioning.read_version(ROOT, package)
        assert f"## {version}" in text, f"{package}: no section for its version {version}"


# ------------------------------------------------------------------------ the checker itself

PYPROJECT = """\
[project]
name = "mi-foo"
version = "{version}"
"""

CHANGELOG = """\
# Changelog: mi-foo

## Unreleased

{entries}
## 0.1.0

First version.
"""


@pytest.fixture
def repo(tmp_path):
    """A git repository with one package ``mi-foo`` 0.1.0 (and a neighbour ``mi-foo-bar``)."""
    for name in ("mi-foo", "mi-foo-bar"):
        pkg = tmp_path / "packages" / name
        (pkg / "src" / name.replace("-", "_")).mkdir(parents=True)
        (pkg / "pyproject.toml").write_text(PYPROJECT.format(version="0.1.0"))
        (pkg / "CHANGELOG.md").write_text(CHANGELOG.format(entries=""))
        (pkg / "src" / name.replace("-", "_") / "__init__.py").write_text("X = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "test@example.org")
    git(tmp_path, "config", "user.name", "test")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "start")
    return tmp_path


def edit_source(repo, text="X = 2\n"):
    (repo / "packages/mi-foo/src/mi_foo/__init__.py").write_text(text)


def test_no_tag_means_no_release_yet(repo):
    edit_source(repo)
    assert check_package(repo, "mi-foo").status == "no-release"


def test_a_source_change_without_version_or_changelog_is_stale(repo):
    git(repo, "tag", "mi-foo-v0.1.0")
    assert check_package(repo, "mi-foo").status == "unchanged"
    edit_source(repo)
    check = check_package(repo, "mi-foo")
    assert check.status == "stale"
    assert check.changed == ("packages/mi-foo/src/mi_foo/__init__.py",)
    assert "neither its version (0.1.0) nor packages/mi-foo/CHANGELOG.md moved" in check.message
    git(repo, "commit", "-qam", "change")  # committed or not, the same
    assert check_package(repo, "mi-foo").status == "stale"


def test_untracked_sources_and_dependencies_count(repo):
    git(repo, "tag", "mi-foo-v0.1.0")
    (repo / "packages/mi-foo/src/mi_foo/new.py").write_text("Y = 1\n")
    assert check_package(repo, "mi-foo").status == "stale"
    (repo / "packages/mi-foo/src/mi_foo/new.py").unlink()
    pyproject = repo / "packages/mi-foo/pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'dependencies = ["numpy"]\n')
    assert check_package(repo, "mi-foo").status == "stale"


def test_a_changelog_entry_or_a_new_version_accounts_for_changes(repo):
    git(repo, "tag", "mi-foo-v0.1.0")
    edit_source(repo)
    changelog = repo / "packages/mi-foo/CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("First version.", "First version!"))
    assert check_package(repo, "mi-foo").status == "stale"  # not an Unreleased entry
    changelog.write_text(CHANGELOG.format(entries="- X is 2.\n"))
    assert check_package(repo, "mi-foo").status == "ok"
    changelog.write_text(CHANGELOG.format(entries=""))
    (repo / "packages/mi-foo/pyproject.toml").write_text(PYPROJECT.format(version="0.1.1"))
    assert check_package(repo, "mi-foo").status == "ok"
    (repo / "packages/mi-foo/pyproject.toml").write_text(PYPROJECT.format(version="0.0.9"))
    assert "below the released 0.1.0" in check_package(repo, "mi-foo").message


def test_the_newest_tag_of_the_package_is_compared(repo):
    git(repo, "tag", "mi-foo-v0.1.0")
    edit_source(repo)
    (repo / "packages/mi-foo/pyproject.toml").write_text(PYPROJECT.format(version="0.2.0"))
    git(repo, "commit", "-qam", "0.2.0")
    git(repo, "tag", "mi-foo-v0.2.0")
    git(repo, "tag", "mi-foo-bar-v9.0.0")  # another package's tag
    git(repo, "tag", "mi-foo-v0.10.0-rc")  # not a release tag
    assert versioning.last_release(repo, "mi-foo") == "mi-foo-v0.2.0"
    assert check_package(repo, "mi-foo").status == "unchanged"
    edit_source(repo, "X = 3\n")
    assert check_package(repo, "mi-foo").status == "stale"
    assert check_package(repo, "mi-foo-bar").status == "unchanged"


def test_bumps_and_changelog_moves():
    assert versioning.bump("0.1.9", "patch") == "0.1.10"
    assert versioning.bump("0.1.9", "minor") == "0.2.0"
    assert versioning.bump("0.1.9", "major") == "1.0.0"
    with pytest.raises(ReleaseError, match="not one of major, minor, patch"):
        versioning.bump("0.1.0", "micro")
    moved = versioning.move_unreleased(
        CHANGELOG.format(entries="- X is 2.\n"), "0.2.0", "2030-01-02"
    )
    assert moved.index("## Unreleased") < moved.index("## 0.2.0 (2030-01-02)\n\n- X is 2.")
    assert moved.index("- X is 2.") < moved.index("## 0.1.0")
    assert versioning.unreleased_entries(moved) == ""
    with pytest.raises(ReleaseError, match="nothing under '## Unreleased'"):
        versioning.move_unreleased(moved, "0.3.0", "2030-01-03")


def test_oldest_core_is_the_lowest_release_the_requirement_allows():
    versions = ["0.1.0", "0.2.0", "0.10.0", "1.0.0"]
    assert versioning.oldest_allowed(">=0.2", versions) == "0.2.0"
    assert versioning.oldest_allowed(">=0.3,<1", versions) == "0.10.0"
    assert versioning.oldest_allowed(">=2", versions) is None


# ------------------------------------------------------------------------ scripts/release

UV = shutil.which("uv")


@pytest.mark.packaging
@pytest.mark.skipif(UV is None or not HAS_GIT, reason="needs uv and a git checkout")
def test_release_bumps_commits_tags_and_builds_on_a_clone(tmp_path):
    """``scripts/release mi-tabular minor`` on a clone of this repository (the working tree's
    script and changelog copied in): nothing is pushed back."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-checkout", str(ROOT), str(clone))
    git(clone, "fetch", "-q", str(ROOT), "HEAD")
    git(clone, "checkout", "-q", "-b", "release-test", "FETCH_HEAD")
    git(clone, "config", "user.email", "test@example.org")
    git(clone, "config", "user.name", "test")
    for rel in ("scripts/release", "scripts/versioning.py", "packages/mi-tabular/CHANGELOG.md"):
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, clone / rel)
    changelog = clone / "packages/mi-tabular/CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## Unreleased\n", "## Unreleased\n\n- A test entry.\n")
    )
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "test setup", "--allow-empty")
    old = versioning.read_version(clone, "mi-tabular")
    new = versioning.bump(old, "minor")
    env = {**os.environ, "UV_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)

    def release(*args):
        return subprocess.run(
            [sys.executable, str(clone / "scripts/release"), *args],
            cwd=clone,
            capture_output=True,
            text=True,
            env=env,
        )

    (clone / "packages/mi-tabular/README.md").write_text("dirty\n")
    refused = release("mi-tabular", "minor")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    git(clone, "checkout", "--", "packages/mi-tabular/README.md")

    proc = release("mi-tabular", "minor")
    if proc.returncode != 0 and "network was disabled" in proc.stderr:
        # `uv sync --frozen` on a fresh machine caches the locked wheels but not the index pages
        # that `uv lock` reads; the release rolled back, so run it again with the registry
        # reachable (as in CI). Offline with a warm cache the first try is the one that counts.
        env.pop("UV_OFFLINE")
        proc = release("mi-tabular", "minor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tag = f"mi-tabular-v{new}"
    assert git(clone, "tag", "--points-at", "HEAD").split() == [tag]
    assert git(clone, "log", "-1", "--format=%s").strip() == f"Release mi-tabular {new}"
    assert git(clone, "status", "--porcelain", "--untracked-files=no") == ""
    assert versioning.read_version(clone, "mi-tabular") == new
    init = (clone / "packages/mi-tabular/src/mi_tabular/__init__.py").read_text()
    assert f'__version__ = "{new}"' in init
    text = changelog.read_text()
    assert versioning.unreleased_entries(text) == ""
    assert text.index(f"## {new} (") < text.index("- A test entry.") < text.index(f"## {old}")
    lock = (clone / "uv.lock").read_text()
    assert f'name = "mi-tabular"\nversion = "{new}"' in lock
    assert (clone / "dist" / f"mi-tabular-{new}" / f"mi_tabular-{new}-py3-none-any.whl").exists()
    assert check_package(clone, "mi-tabular").status == "unchanged"
    # the checker now guards the released package; nothing went back to this repository
    (clone / "packages/mi-tabular/src/mi_tabular/__init__.py").write_text(init + "\nX = 1\n")
    assert check_package(clone, "mi-tabular").status == "stale"
    assert tag not in git(ROOT, "tag", "--list", "mi-tabular-v*").split()
    assert release("mi-tabular", "micro").returncode == 2


def test_release_dry_run_changes_nothing(repo):
    script = ROOT / "scripts" / "release"
    (repo / "packages/mi-foo/CHANGELOG.md").write_text(CHANGELOG.format(entries="- new\n"))
    git(repo, "commit", "-qam", "entry")
    proc = subprocess.run(
        [sys.executable, str(script), "mi-foo", "patch", "--repo", str(repo), "--dry-run"],
        capture_output=True,
        text=True,
    )
    if UV is None:
        assert "uv is needed" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    assert "mi-foo: 0.1.0 -> 0.1.1 (patch); tag mi-foo-v0.1.1" in proc.stdout
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "tag") == ""
    assert proc.stdout.count("would edit") == 2  # pyproject, changelog
