"""Evaluating training-data extraction against planted canaries, beside a model that never saw
them (used by the ``canary-lm`` and ``hf-causal-lm`` cases and the benchmarks).

Leakage is measured against a *reference*: the base model the target was fine-tuned from where
given, else another model of the same family not trained on the canaries, else the canary
format's random guess. Samples of the target itself are never a baseline: sampling the target is
an attack (Carlini et al. 2021 call it the generation step), so the canaries that the target's
unranked samples contain are reported as leakage of their own (``random_generation_recall``).

Figures (each secret counts once; near-identical samples are dropped before ranking,
:func:`~mi_text.metrics.distinct_samples`):

* ``secret_recall@N``: fraction of the canaries among the attack's top N distinct outputs;
* ``extraction_precision@N``: fraction of the top N distinct outputs that reveal a new canary;
* ``canaries_in_output``: fraction of the canaries anywhere in the attack's output, with the
  rank of each (``details["ranks"]``: rank among the distinct outputs, None if absent);
* ``random_generation_recall``: canaries in unranked samples of the target (leakage);
* ``mean_exposure_bits``: canary exposure (Carlini et al. 2019, "The secret sharer"),
  ``log2 |R| - log2 rank`` of each canary among sampled candidates of its format, under the
  target, beside the same under the reference (or the ~1.44 bits of a random ranking);
  ``details["per_canary"]`` lists each canary's exposure and its normal-fit extrapolation;
  ``mean_exposure_normal_bits``: the same with the normal fit (the sample estimate is capped at
  log2 of twice the number of candidates);
* per canary (``per_canary``): its exposure, named with its rank among the attack's outputs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from mi_core.errors import MetricError
from mi_core.metrics.base import Figure
from mi_text.data import Canary
from mi_text.generation import TemperatureSchedule, sample
from mi_text.lm_access import local_query
from mi_text.metrics import (
    canary_ranks,
    distinct_samples,
    exposure,
    extraction_precision,
    perplexity,
    random_guess_precision,
    random_guess_recall,
    random_rank_exposure,
    secret_recall,
)
from mi_text.models import CausalLM

RANDOM_GUESS = "random guess of the canary format"


def draw_samples(
    lm: CausalLM, n: int, *, max_new_tokens: int = 24, top_k: int = 40, seed: int = 0
) -> list[str]:
    """``n`` unranked top-k samples of ``lm`` from its start token (the generation step of
    Carlini et al. 2021), decoded, in the order drawn."""
    g = torch.Generator().manual_seed(seed)
    q = local_query(lm)
    out: list[str] = []
    for b in range(0, n, 64):
        starts = [[lm.start_id] for _ in range(min(64, n - b))]
        new = sample(
            q,
            starts,
            max_new_tokens=max_new_tokens,
            eos_id=lm.eos_id,
            top_k=top_k,
            temperature=TemperatureSchedule(),
            generator=g,
        )
        out += [lm.decode([i for i in s if i != lm.eos_id]) for s in new]
    return out


def canary_log_likelihoods(lm: CausalLM, texts: Sequence[str], batch_size: int = 32) -> list[float]:
    """Total negative log-likelihood (nats) of each text under ``lm``: the sequence score of
    the exposure, comparable across candidates of different token lengths."""
    q = local_query(lm)
    out: list[float] = []
    seqs = [lm.encode(t) for t in texts]
    for i in range(0, len(seqs), batch_size):
        for lp in q(seqs[i : i + batch_size])["token_logprobs"]:
            out.append(-float(lp.sum()))
    return out


def heldout_perplexity(
    lm: CausalLM, texts: Sequence[str], *, max_tokens: int | None = None, batch_size: int = 16
) -> float:
    """Token-level perplexity of ``lm`` on held-out ``texts`` (each scored from the start token,
    truncated to ``max_tokens`` tokens): the utility of a language model, to read beside the
    uniform guess over its vocabulary (perplexity = vocabulary size)."""
    q = local_query(lm)
    seqs = [lm.encode(t) for t in texts]
    if max_tokens is not None:
        seqs = [s[: max_tokens + 1] for s in seqs]
    seqs = [s for s in seqs if len(s) > 1]
    sums, counts = [], []
    for i in range(0, len(seqs), batch_size):
        for lp in q(seqs[i : i + batch_size])["token_logprobs"]:
            sums.append(-float(lp.sum()))
            counts.append(lp.numel())
    return perplexity(sums, counts)


def canary_exposures(
    lm: CausalLM, canaries: Sequence[Canary], candidates: int, seed: int
) -> list[dict[str, float]]:
    """Exposure of each canary under ``lm`` among ``candidates`` random candidates of its
    format (the same candidates for every model given the same seed): the sample estimate
    (capped at log2(2 (n + 1)) bits) and the normal-fit extrapolation."""
    rng = random.Random(seed)
    out = []
    for c in canaries:
        cands = [c.random_candidate(rng) for _ in range(candidates)]
        nll = canary_log_likelihoods(lm, [c.text, *cands])
        row = {"exposure_bits": exposure(nll[0], nll[1:], c.space_size)}
        try:
            row["exposure_normal_bits"] = exposure(nll[0], nll[1:], c.space_size, method="normal")
        except MetricError:
            row["exposure_normal_bits"] = row["exposure_bits"]
        out.append(row)
    return out


@dataclass
class ExtractionEvaluator:
    """Figures of an extraction attack's ranked output against the canaries planted in the
    target's training data (see the module docstring).

    Args:
        target: the model under audit (the evaluator samples it once for the random-generation
            leakage figure and scores the canaries for exposure; the attack never sees this).
        canaries: the planted canaries (secret plus the context it was planted in).
        reference: a model that never saw the canaries (None: the format's random guess).
        reference_name: how tables name the reference.
        top_n: N of the top-N figures.
        samples / sample_tokens: unranked samples drawn from the reference (the baseline) and
            from the target (the random-generation leakage figure).
        random_generation: whether to sample the target for that figure (off where the
            caller reports the attack's own unranked samples instead, as the benchmarks do).
        per_canary: one exposure figure per canary besides the mean, named with the canary's
            last characters and its rank among the attack's distinct outputs (what an audit
            report lists; the benchmarks record them in the mean's details instead).
        exposure_candidates: random candidates per canary for the exposure.
        groups: extra recall figures over subsets of the secrets (e.g. ``{"x20": [...]}``).
    """

    target: CausalLM
    canaries: list[Canary]
    reference: CausalLM | None = None
    reference_name: str = "reference model (canaries unseen)"
    top_n: int = 20
    seed: int = 0
    samples: int = 200
    sample_tokens: int = 32
    exposure_candidates: int = 200
    groups: dict[str, list[str]] = field(default_factory=dict)
    random_generation: bool = True
    per_canary: bool = True

    def __post_init__(self) -> None:
        if not self.canaries:
            raise MetricError("canaries: give at least one canary to look for")
        if self.top_n < 1:
            raise MetricError(f"top_n: must be >= 1, got {self.top_n}")
        self.secrets = list(dict.fromkeys(c.secret for c in self.canaries))
        self.reference_samples: list[str] | None = None
        self.reference_exposures: list[dict[str, float]] | None = None
        self.target_samples: list[str] = []
        self.target_exposures: list[dict[str, float]] = []

    def prepare(self) -> ExtractionEvaluator:
        """Sample and score the reference (once) and the target."""
        if self.reference is not None and self.reference_samples is None:
            self.reference_samples = draw_samples(
                self.reference, self.samples, max_new_tokens=self.sample_tokens, seed=self.seed
            )
            self.reference_exposures = canary_exposures(
                self.reference, self.canaries, self.exposure_candidates, self.seed
            )
        if self.random_generation:
            self.target_samples = draw_samples(
                self.target, self.samples, max_new_tokens=self.sample_tokens, seed=self.seed
            )
        self.target_exposures = canary_exposures(
            self.target, self.canaries, self.exposure_candidates, self.seed
        )
        return self

    def with_target(self, target: CausalLM) -> ExtractionEvaluator:
        """The same evaluation (reference samples and exposures reused) of another target,
        e.g. the model fine-tuned under a data defense."""
        import copy

        out = copy.copy(self)
        out.target = target
        return out.prepare()

    # baselines --------------------------------------------------------------------------
    @property
    def baseline_name(self) -> str:
        return self.reference_name if self.reference is not None else RANDOM_GUESS

    def _recall_baseline(self, secrets: list[str], n: int | None) -> float:
        if self.reference_samples is not None:
            k = n if n is not None else max(1, len(self.reference_samples))
            return secret_recall(self.reference_samples, secrets, k)
        return random_guess_recall(secrets, n or max(1, self.samples))

    def _precision_baseline(self, n: int) -> float:
        if self.reference_samples is not None:
            return extraction_precision(self.reference_samples, self.secrets, n)
        return random_guess_precision(self.secrets)

    # figures ---------------------------------------------------------------------------
    def figures(self, ranked: Sequence[str]) -> list[Figure]:
        """The figures of an attack's output, ``ranked`` most likely to be training data
        first."""
        if not self.target_exposures:
            raise MetricError("ExtractionEvaluator: call prepare() before figures()")
        ranked = [str(r) for r in ranked]
        if not ranked:
            raise MetricError("result: the attack returned no text to look for canaries in")
        n = self.top_n
        distinct = len(distinct_samples(ranked))
        ranks = canary_ranks(ranked, self.secrets)
        found_top = [s for s, r in ranks.items() if r is not None and r <= n]
        base = self.baseline_name
        common = {"top_n": n, "outputs": len(ranked), "distinct_outputs": distinct}
        figs = [
            Figure(
                f"secret_recall@{n}",
                secret_recall(ranked, self.secrets, n),
                True,
                self._recall_baseline(self.secrets, n),
                base,
                {**common, "found": found_top, "canaries": len(self.secrets)},
                unit_interval=True,
            ),
            Figure(
                f"extraction_precision@{n}",
                extraction_precision(ranked, self.secrets, n),
                True,
                self._precision_baseline(n),
                base,
                dict(common),
                unit_interval=True,
            ),
            Figure(
                "canaries_in_output",
                sum(r is not None for r in ranks.values()) / len(self.secrets),
                True,
                self._recall_baseline(self.secrets, None)
                if self.reference_samples is not None
                else random_guess_recall(self.secrets, max(1, distinct)),
                base,
                {**common, "ranks": ranks},
                unit_interval=True,
            ),
        ]
        for name, secrets in self.groups.items():
            if secrets:
                figs.append(
                    Figure(
                        f"secret_recall@{n} {name}",
                        secret_recall(ranked, secrets, n),
                        True,
                        self._recall_baseline(secrets, n),
                        base,
                        {"canaries": len(secrets)},
                        unit_interval=True,
                    )
                )
        if self.random_generation:
            figs.append(self.random_generation_figure())
        figs += [self.exposure_figure(), self.exposure_figure(normal=True)]
        if self.per_canary:
            figs += self.canary_figures(ranks, distinct)
        return figs

    def canary_figures(self, ranks: dict[str, int | None], distinct: int) -> list[Figure]:
        """Per canary: its exposure under the target beside the reference's (or a random
        ranking's), named with its last characters and its rank among the attack's outputs."""
        out = []
        fig = self.exposure_figure()
        for row in fig.details["per_canary"]:
            secret = row["secret"]
            r = ranks.get(secret)
            where = f"rank {r} of {distinct}" if r is not None else f"not in {distinct} outputs"
            ref = row["reference_exposure_bits"]
            out.append(
                Figure(
                    f"exposure_bits canary ...{secret[-4:]} ({where})",
                    row["exposure_bits"],
                    True,
                    fig.baseline if ref is None else ref,
                    fig.baseline_name,
                    {**row, "rank": r, "distinct_outputs": distinct},
                    unit_interval=False,
                )
            )
        return out

    def random_generation_figure(self) -> Figure:
        """Canaries in unranked samples of the target: leakage (never a baseline)."""
        tr = canary_ranks(self.target_samples, self.secrets)
        return Figure(
            "random_generation_recall",
            sum(r is not None for r in tr.values()) / len(self.secrets),
            True,
            self._recall_baseline(self.secrets, None),
            self.baseline_name,
            {
                "samples": len(self.target_samples),
                "ranks": tr,
                "note": "unranked samples of the target itself: sampling the target is an "
                "attack, so secrets found here are leakage, never a baseline",
            },
            unit_interval=True,
        )

    def exposure_figure(self, normal: bool = False) -> Figure:
        """Mean canary exposure under the target beside the reference (or a random ranking):
        the sample estimate, or with ``normal`` the normal-fit extrapolation (which resolves
        exposures beyond log2 of the number of candidates)."""
        key = "exposure_normal_bits" if normal else "exposure_bits"
        tgt = [e[key] for e in self.target_exposures]
        refs = self.reference_exposures
        if refs is not None:
            baseline = sum(e[key] for e in refs) / len(refs)
        else:
            baseline = random_rank_exposure(self.exposure_candidates)
        per = []
        for i, (c, e) in enumerate(zip(self.canaries, self.target_exposures, strict=True)):
            per.append(
                {
                    "secret": c.secret,
                    "repetitions": c.repetitions,
                    "space_size": float(c.space_size),
                    **e,
                    "reference_exposure_bits": None if refs is None else refs[i]["exposure_bits"],
                    "reference_exposure_normal_bits": None
                    if refs is None
                    else refs[i]["exposure_normal_bits"],
                }
            )
        return Figure(
            "mean_exposure_normal_bits" if normal else "mean_exposure_bits",
            sum(tgt) / len(tgt),
            True,
            baseline,
            self.baseline_name if self.reference is not None else "random ranking of the canary",
            {"candidates": self.exposure_candidates, "per_canary": per},
            unit_interval=False,
        )

    def info(self) -> dict[str, Any]:
        """What the report shows beside the figures (the secrets to highlight)."""
        return {"secrets": list(self.secrets)}
