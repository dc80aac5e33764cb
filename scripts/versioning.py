"""Independent versions of the workspace's packages: release tags, version bumps, changelogs,
and the check that a package's sources never change without its version or changelog moving.

Each package ``packages/<name>`` carries its version in ``pyproject.toml`` (and ``__version__``),
a ``CHANGELOG.md`` whose ``## Unreleased`` section collects changes, and is released on its own
as the git tag ``<name>-vX.Y.Z`` (``scripts/release NAME PART``). Used by ``scripts/release``,
the packaging test and ``tests/integration/test_versions.py``.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

PARTS = ("major", "minor", "patch")
UNRELEASED = "## Unreleased"
# files of a package that are not its sources: editing them alone needs no release
NOT_SOURCES = ("CHANGELOG.md", "README.md")


class ReleaseError(Exception):
    """A release step cannot go on; the message says why and what to do."""


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def package_dir(repo: Path, package: str) -> Path:
    path = repo / "packages" / package
    if not (path / "pyproject.toml").exists():
        known = sorted(p.parent.name for p in (repo / "packages").glob("*/pyproject.toml"))
        raise ReleaseError(f"package: no packages/{package}/pyproject.toml; packages: {known}")
    return path


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", text.strip())
    if m is None:
        raise ReleaseError(f"version: {text!r} is not MAJOR.MINOR.PATCH")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def read_version(repo: Path, package: str) -> str:
    with (package_dir(repo, package) / "pyproject.toml").open("rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def bump(version: str, part: str) -> str:
    """``bump("0.1.3", "minor") == "0.2.0"``."""
    if part not in PARTS:
        raise ReleaseError(f"part: {part!r} is not one of {', '.join(PARTS)}")
    major, minor, patch = parse_version(version)
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def tag_name(package: str, version: str) -> str:
    return f"{package}-v{version}"


def release_tags(repo: Path, package: str) -> dict[str, str]:
    """``{version: tag}`` of every release tag ``<package>-vX.Y.Z``, oldest first."""
    pattern = re.compile(rf"{re.escape(package)}-v(\d+\.\d+\.\d+)")
    found = {}
    for tag in git(repo, "tag", "--list", f"{package}-v*").split():
        m = pattern.fullmatch(tag)
        if m is not None:
            found[m.group(1)] = tag
    return dict(sorted(found.items(), key=lambda kv: parse_version(kv[0])))


def last_release(repo: Path, package: str) -> str | None:
    """The newest release tag of ``package`` (None before its first release)."""
    tags = release_tags(repo, package)
    return list(tags.values())[-1] if tags else None


@dataclass(frozen=True)
class Check:
    """Whether a package's changes since its last release are accounted for."""

    package: str
    status: str  # "no-release" | "unchanged" | "ok" | "stale"
    message: str
    changed: tuple[str, ...] = ()


def check_package(repo: Path, package: str) -> Check:
    """Compare ``packages/<package>`` (working tree, untracked files included) with its last
    release tag: changed sources need a new version or a changed CHANGELOG.md."""
    path = f"packages/{package}"
    package_dir(repo, package)
    tag = last_release(repo, package)
    if tag is None:
        return Check(package, "no-release", f"{package}: no release tag {package}-vX.Y.Z yet")
    files = set(git(repo, "diff", "--name-only", tag, "--", path).split())
    files |= set(git(repo, "ls-files", "--others", "--exclude-standard", "--", path).split())
    sources = tuple(sorted(f for f in files if Path(f).name not in NOT_SOURCES))
    if not sources:
        return Check(package, "unchanged", f"{package}: no source change since {tag}")
    released = tag[len(package) + 2 :]
    current = read_version(repo, package)
    if parse_version(current) < parse_version(released):
        return Check(
            package, "stale", f"{package}: version {current} is below the released {released}"
        )
    changelog = f"{path}/CHANGELOG.md"
    before = unreleased_entries(git_show(repo, tag, changelog))
    now = unreleased_entries((repo / changelog).read_text() if (repo / changelog).exists() else "")
    if current != released or (now and now != before):
        return Check(package, "ok", f"{package}: changes since {tag} are recorded", sources)
    shown = ", ".join(sources[:5]) + (" ..." if len(sources) > 5 else "")
    return Check(
        package,
        "stale",
        f"{package}: {len(sources)} source file(s) changed since {tag} ({shown}) but neither "
        f"its version ({current}) nor {changelog} moved; add a line under '{UNRELEASED}' in "
        f"{changelog} (or release it: scripts/release {package} patch|minor|major)",
        sources,
    )


def git_show(repo: Path, rev: str, path: str) -> str:
    """The text of ``path`` at ``rev`` ("" where it did not exist)."""
    proc = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, text=True
    )
    return proc.stdout if proc.returncode == 0 else ""


def _unreleased_span(lines: list[str]) -> tuple[int, int] | None:
    start = next((i for i, line in enumerate(lines) if line.strip() == UNRELEASED), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def unreleased_entries(changelog: str) -> str:
    """The text under ``## Unreleased`` (stripped; "" when empty or absent)."""
    lines = changelog.splitlines()
    span = _unreleased_span(lines)
    return "" if span is None else "\n".join(lines[span[0] + 1 : span[1]]).strip()


def move_unreleased(changelog: str, version: str, date: str) -> str:
    """Move the entries under ``## Unreleased`` to a new ``## <version> (<date>)`` section and
    leave an empty Unreleased section above it."""
    lines = changelog.splitlines()
    span = _unreleased_span(lines)
    if span is None:
        raise ReleaseError(f"CHANGELOG.md: no '{UNRELEASED}' section")
    start, end = span
    body = "\n".join(lines[start + 1 : end]).strip("\n")
    if not body.strip():
        raise ReleaseError(
            f"CHANGELOG.md: nothing under '{UNRELEASED}'; write what changed before releasing"
        )
    head = "\n".join(lines[:start]).rstrip("\n")
    tail = "\n".join(lines[end:]).strip("\n")
    parts = [head, UNRELEASED, f"## {version} ({date})\n\n{body}"]
    if tail:
        parts.append(tail)
    return "\n\n".join(p for p in parts if p) + "\n"


def set_version(text: str, old: str, new: str, where: str) -> str:
    """Replace the ``version = "old"`` line of a pyproject (or ``__version__ = "old"``)."""
    pattern = re.compile(rf'^(version|__version__)(\s*=\s*)"{re.escape(old)}"', re.MULTILINE)
    out, n = pattern.subn(rf'\g<1>\g<2>"{new}"', text, count=1)
    if n != 1:
        raise ReleaseError(f'{where}: no line version = "{old}" to bump')
    return out


def oldest_allowed(specifier: str, versions: list[str]) -> str | None:
    """The oldest of ``versions`` that a requirement's ``specifier`` (e.g. ``">=0.1.0,<1"``)
    allows; None if none does."""
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    spec = SpecifierSet(specifier)
    allowed = sorted((v for v in versions if Version(v) in spec), key=Version)
    return allowed[0] if allowed else None
