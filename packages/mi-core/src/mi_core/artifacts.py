"""Artifacts shared by the cells of one audit: a model several attacks would train identically
(e.g. a GAN prior on the same public data, with the same settings and seed) is trained once,
saved under the audit's output folder and reused by the others (and by a rerun).

The runner sets the folder around each cell (:func:`sharing`); an attack asks for the path of an
artifact by a key that holds everything the artifact depends on (:func:`artifact_path`) and loads
it from there or trains and saves it. Outside an audit there is no folder and nothing is shared.
Only artifacts that do not depend on the target may be shared: one trained through the target
would hand later cells answers they never paid queries for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

_DIR: ContextVar[Path | None] = ContextVar("mi_artifacts_dir", default=None)


def artifact_dir() -> Path | None:
    """The folder of shared artifacts of the audit running in this context (None outside)."""
    return _DIR.get()


@contextmanager
def sharing(folder: str | Path | None) -> Iterator[None]:
    """Share artifacts under ``folder`` (None: share nothing) inside the ``with`` block."""
    token = _DIR.set(None if folder is None else Path(folder))
    try:
        yield
    finally:
        _DIR.reset(token)


def artifact_key(key: Any) -> str:
    """A short stable digest of ``key`` (JSON-able: settings, a data fingerprint, the seed)."""
    payload = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def artifact_path(kind: str, key: Any) -> Path | None:
    """Where the artifact of ``kind`` identified by ``key`` lives in this audit (None outside
    an audit)."""
    folder = _DIR.get()
    return None if folder is None else folder / f"{kind}-{artifact_key(key)}"
