"""The attack protocol: every attack declares its modality, the access it needs and its paper,
and turns a target view plus attacker knowledge into an :class:`~mi_core.result.AttackResult`.

Subclass :class:`BaseAttack`, set the class attributes, give a config dataclass and implement
``_run``; the base class checks the access, seeds, times, counts queries and fills the result.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from mi_core.config import build_config, config_to_dict
from mi_core.errors import AccessError, ConfigError
from mi_core.result import AttackResult
from mi_core.seed import seed_everything
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView, frozen, require_access

MODALITIES = ("image", "text", "graph", "tabular")

#: the fields of :class:`~mi_core.threat.Knowledge`; other knowledge names are ``extra`` keys
KNOWLEDGE_FIELDS = ("auxiliary", "known_attributes", "target_labels", "prior", "query_budget")


def knowledge_satisfied(requirement: str, provided: Iterable[str]) -> bool:
    """Whether ``provided`` (names a case gives, see :meth:`AuditCase.provides`) meets one
    ``requirement`` of :attr:`BaseAttack.requires`: ``a|b`` needs either; ``name:kind`` needs
    that name of that kind (a provided name without a kind, or a requirement without one,
    matches any kind)."""
    have = [p.partition(":")[::2] for p in provided]
    for alt in requirement.split("|"):
        name, _, kind = alt.strip().partition(":")
        for p_name, p_kind in have:
            if p_name == name and (not kind or not p_kind or p_kind == kind):
                return True
    return False


def describe_knowledge(name: str) -> str:
    """``prior:causal-lm`` -> ``knowledge.prior (causal-lm)``; extra keys as ``extra['key']``."""
    base, _, kind = name.partition(":")
    where = f"knowledge.{base}" if base in KNOWLEDGE_FIELDS else f"knowledge.extra[{base!r}]"
    return f"{where} ({kind})" if kind else where


@runtime_checkable
class Attack(Protocol):
    """What the registry, the CLI and the audit rely on."""

    name: ClassVar[str]
    modality: ClassVar[str]
    access: ClassVar[Access]
    paper: ClassVar[str]

    def run(
        self, view: TargetView, knowledge: Knowledge | None = None, *, seed: int = 0
    ) -> AttackResult: ...


def _module_of(view: TargetView) -> Any:
    """The torch module a white-box view hands out, else None."""
    if view.access is not Access.WHITE_BOX:
        return None
    try:
        return view.module
    except AccessError:  # a white-box view of a non-torch estimator
        return None


def check_target_labels(knowledge: Knowledge, view: TargetView, modality: str) -> None:
    """Refuse class ids beyond the target's outputs (``knowledge.target_labels`` against the
    view's ``num_classes``) with a named error. Tabular labels are class values, not indices,
    and non-integer labels (embeddings, strings) are not class ids: both are left alone."""
    k = view.num_classes
    labels = knowledge.target_labels
    if k is None or labels is None or modality == "tabular":
        return
    arr = _integer_ids(labels)
    if arr is None or arr.size == 0:
        return
    bad = arr[(arr < 0) | (arr >= k)]
    if bad.size:
        raise ConfigError(
            f"knowledge.target_labels: class {int(bad[0])} is beyond the target's {k} outputs "
            f"(classes 0 to {k - 1}); {bad.size} of {arr.size} labels are out of range"
        )


def _integer_ids(labels: Any) -> np.ndarray | None:
    """``labels`` as an integer array, or None when they are not integer class ids."""
    if isinstance(labels, int | np.integer) and not isinstance(labels, bool):
        return np.asarray([int(labels)])
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(labels, torch.Tensor):
        if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
            return None
        return labels.detach().cpu().reshape(-1).numpy().astype(np.int64)
    if isinstance(labels, np.ndarray):
        return labels.reshape(-1).astype(np.int64) if labels.dtype.kind in "iu" else None
    if isinstance(labels, list | tuple | range):
        items = list(labels)
        if items and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) for v in items
        ):
            return np.asarray([int(v) for v in items], dtype=np.int64)
    return None


class BaseAttack:
    """Common behaviour of attacks. Subclasses set:

    * ``name``: registry name (``"mi-face"``),
    * ``modality``: one of ``image``, ``text``, ``graph``, ``tabular``,
    * ``access``: the weakest access the attack needs,
    * ``paper``: short citation,
    * ``Config``: a dataclass of hyper-parameters validated in ``__post_init__``,

    and implement ``_run(view, knowledge, seed) -> AttackResult`` (``queries``, ``seconds``,
    ``seed`` and ``config`` are filled in here).
    """

    name: ClassVar[str]
    modality: ClassVar[str]
    access: ClassVar[Access]
    paper: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Config: ClassVar[type]
    #: knowledge the attack cannot run without: :class:`~mi_core.threat.Knowledge` fields
    #: (``auxiliary``, ``prior``, ``target_labels``, ``known_attributes``) or ``extra`` keys,
    #: optionally of a kind (``prior:causal-lm``); ``"a|b"`` is met by either. An audit skips
    #: (and lists, with the reason) attacks whose requirements a case cannot give.
    requires: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any = None, **overrides: Any) -> None:
        self.config = build_config(self.Config, config, where=f"{self.name}.config", **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BaseAttack:
        return cls(dict(data or {}))

    def run(
        self,
        view: TargetView,
        knowledge: Knowledge | None = None,
        *,
        seed: int = 0,
    ) -> AttackResult:
        """Run the attack against ``view`` with the attacker's ``knowledge``."""
        view = require_access(view, self.access, who=f"attack {self.name!r}")
        if view.modality is not None and view.modality != self.modality:
            raise ConfigError(
                f"view.modality: attack {self.name!r} targets {self.modality} models, the view "
                f"is of a {view.modality} model"
            )
        knowledge = knowledge if knowledge is not None else Knowledge()
        if not isinstance(knowledge, Knowledge):
            raise ConfigError(
                f"knowledge: expected mi_core.Knowledge, got {type(knowledge).__name__}"
            )
        check_target_labels(knowledge, view, self.modality)
        q0 = view.queries
        seed_everything(seed)
        t0 = time.perf_counter()
        # whatever the attack changes on the user's model (requires_grad, train / eval) is put
        # back when it returns; results live on the CPU
        with frozen(_module_of(view), freeze=False):
            result = self._run(view, knowledge, seed).to_cpu()
        result.seconds = time.perf_counter() - t0
        result.queries = view.queries - q0
        result.seed = seed
        result.config = config_to_dict(self.config)
        result.attack = self.name
        result.modality = self.modality
        result.access = view.access.value
        return result

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        raise NotImplementedError

    # planning (what an audit checks before running) -------------------------------------------
    def required_knowledge(self) -> tuple[str, ...]:
        """:attr:`requires` under this config (attacks whose needs depend on settings, e.g. a
        ranking by a reference model, override this)."""
        return tuple(self.requires)

    def missing_knowledge(self, provided: Iterable[str] | None) -> list[str]:
        """The requirements ``provided`` (a case's :meth:`provides`) does not meet; none when
        ``provided`` is None (unknown)."""
        if provided is None:
            return []
        provided = list(provided)
        return [r for r in self.required_knowledge() if not knowledge_satisfied(r, provided)]

    def priors_to_train(self, provided: Iterable[str] | None) -> list[dict[str, Any]]:
        """Models this attack would train before attacking, given what the case provides (for
        ``mi audit --dry-run``): dicts with ``kind`` (e.g. ``"gan prior"``), ``config`` (the
        training settings), ``shared`` (True when attacks with the same ``config`` reuse one
        copy) and ``seconds`` (a rough estimate)."""
        return []

    #: rough seconds of one run at the default settings on one laptop CPU core (for the dry
    #: run's estimate; None: unknown)
    rough_seconds: ClassVar[float | None] = None

    def _result(self, reconstructions: Any, **kwargs: Any) -> AttackResult:
        """Shorthand for subclasses: a result with this attack's identity filled in."""
        return AttackResult(
            attack=self.name,
            modality=self.modality,
            access=self.access.value,
            reconstructions=reconstructions,
            **kwargs,
        )

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {
            "name": cls.name,
            "modality": cls.modality,
            "access": cls.access.value,
            "paper": cls.paper,
            "summary": cls.summary,
        }
