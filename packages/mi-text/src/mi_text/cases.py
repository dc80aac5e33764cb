"""Built-in audit case for text (trains offline in well under a minute; ``mi list cases``).

``canary-lm``: a word-level GPT-2 pre-trained on public sentences (the base model the attacker
also holds) and a copy fine-tuned on private sentences holding PII canaries repeated 1, 5 and 20
times. Attacks extract training data from the fine-tuned model; figures count distinct secrets
and are judged against the base model, which never saw the canaries (never against samples of
the target: :mod:`mi_text.extraction_eval`).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from mi_core.audit.case import AuditCase, CellDefaults
from mi_core.io import load_state_dict, save_state_dict
from mi_core.metrics.base import Figure
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetInfo
from mi_text.data import insert_canaries, make_canaries
from mi_text.extraction_eval import ExtractionEvaluator, heldout_perplexity
from mi_text.models import CausalLM, LMTrainConfig, tiny_gpt2, train_causal_lm
from mi_text.tokenizers import WordTokenizer


def _sentences(n: int, seed: int) -> list[str]:
    from faker import Faker

    fake = Faker()
    fake.seed_instance(seed)
    return [fake.sentence(nb_words=8) for _ in range(n)]


class CanaryLMCase(AuditCase):
    """Fine-tuned word-level GPT-2 with PII canaries (training-data extraction setting)."""

    name = "canary-lm"
    modality = "text"
    description = "small GPT-2 fine-tuned on private text with PII canaries (x1, x5, x20)"
    default_cells = (
        CellDefaults(
            "perplexity-extraction",
            "black-box-scores",
            {"n_samples": 200, "max_new_tokens": 24, "ranking": "reference", "progress": False},
        ),
        CellDefaults(
            "difference-search",
            "black-box-scores",
            {"beam_width": 5, "starts": 10, "max_new_tokens": 24, "progress": False},
        ),
    )
    top_n = 20
    #: the demo compares extraction from an LM fine-tuned on deduplicated text (Kandpal et al.)
    default_defenses = (("dedup", {}),)

    def prepare(self, workdir: Path, seed: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny models: one thread is fastest, above all on busy CPUs
        try:
            self._prepare(workdir, seed)
        finally:
            torch.set_num_threads(threads)

    def _prepare(self, workdir: Path, seed: int) -> None:
        self.public = _sentences(200, seed + 1)
        private = _sentences(60, seed + 2)
        self.canaries = make_canaries(12, repetitions=(1, 5, 20), seed=seed)
        tok = WordTokenizer.fit(self.public + private + [c.text for c in self.canaries])

        def fresh() -> CausalLM:
            return CausalLM(
                tiny_gpt2(tok.vocab_size, n_layer=2, n_embd=64, n_positions=64, seed=seed), tok
            )

        self.base = fresh()
        path = workdir / f"base-seed{seed}.safetensors"
        if path.exists():
            self.base.model.load_state_dict(load_state_dict(path))
        else:
            train_causal_lm(
                self.base,
                self.public,
                LMTrainConfig(epochs=8, lr=3e-3, batch_size=32),
                seed=seed,
                desc="base LM",
            )
            save_state_dict(path, self.base.model.state_dict())
        self.tok = tok
        self.docs = insert_canaries(private, self.canaries, seed=seed)
        # held-out sentences of the same kind, in the tokenizer's vocabulary (utility)
        self.heldout = [t for t in _sentences(200, seed + 3) if tok.unk_id not in tok.encode(t)][
            :40
        ]
        self.tuned = self._fine_tune(self.docs, workdir / f"tuned-seed{seed}.safetensors", seed)
        self.base.eval()
        dev = self.torch_device()  # the audit's device: both LMs are served there
        self.base.to(dev)
        self.tuned.to(dev)
        self.seed = seed
        self.evaluator = ExtractionEvaluator(
            self.tuned,
            self.canaries,
            reference=self.base,
            reference_name="base model (canaries unseen)",
            top_n=self.top_n,
            seed=seed,
            groups={
                f"x{rep}": [c.secret for c in self.canaries if c.repetitions == rep]
                for rep in (1, 5, 20)
            },
        ).prepare()

    def _fine_tune(self, docs: list[str], path: Path, seed: int) -> CausalLM:
        """A copy of the base LM fine-tuned on ``docs`` (cached at ``path``)."""
        tuned = copy.deepcopy(self.base)
        if path.exists():
            tuned.model.load_state_dict(load_state_dict(path))
        else:
            train_causal_lm(
                tuned,
                docs,
                LMTrainConfig(epochs=40, lr=4e-3, batch_size=24),
                seed=seed,
                desc="fine-tuning",
            )
            save_state_dict(path, tuned.model.state_dict())
        return tuned.eval()

    def with_defense(self, defense: Any, workdir: Path, seed: int) -> CanaryLMCase:
        """A copy whose target is fine-tuned on the private documents as a data defense
        transforms them (e.g. ``dedup``); the base model is shared."""
        if defense.kind.value != "data" or "text" not in defense.modalities:
            return super().with_defense(defense, workdir, seed)  # raises NotApplicable
        workdir.mkdir(parents=True, exist_ok=True)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            out = copy.copy(self)
            out.docs = list(defense.transform(self.docs))
            out.tuned = self._fine_tune(out.docs, workdir / f"tuned-seed{seed}.safetensors", seed)
            out.evaluator = self.evaluator.with_target(out.tuned)
        finally:
            torch.set_num_threads(threads)
        return out

    def utility(self, view: Any = None) -> dict[str, float]:
        """Token-level perplexity of the fine-tuned LM on held-out sentences of the same kind
        (faker's sentences are random words: no model predicts them much better than the
        uniform guess over the vocabulary; the benchmarks use a real LM on WikiText-2)."""
        return {"heldout_perplexity": heldout_perplexity(self.tuned, self.heldout)}

    def target(self) -> CausalLM:
        return self.tuned

    def target_info(self) -> TargetInfo:
        return TargetInfo(modality="text")

    def view_kwargs(self, access: Access) -> dict[str, Any]:
        return {"postprocess": None}

    def provides(self, access: Access) -> set[str]:
        return {"prior:causal-lm", "auxiliary:text"}  # the public base model, public text

    def knowledge(self, access: Access) -> Knowledge:
        return Knowledge(prior=self.base, auxiliary=self.public)

    def evaluate(self, result: AttackResult) -> list[Figure]:
        result.info.update(self.evaluator.info())  # the report highlights the secrets
        return self.evaluator.figures(list(result.reconstructions))
