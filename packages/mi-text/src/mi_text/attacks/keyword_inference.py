"""Keyword inference from sentence embeddings (Pan, Zhang, Ji & Yang, IEEE S&P 2020, [42]; the
bag-of-words inversion of Song & Raghunathan, CCS 2020, [43]; survey Sec. V-A-2).

From public sentences the attacker builds (embedding, keyword present?) pairs for a list of
sensitive keywords (``knowledge.extra["keywords"]``; by default the ``n_keywords`` most frequent
non-stop words of the public corpus), trains one classifier per keyword -- a 3-layer MLP with 80
hidden units or a linear SVM, as in [42] -- and predicts which keywords each leaked embedding's
sentence holds. The reconstruction of a sentence is its predicted keyword set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from mi_core import device as devices
from mi_core.attack import BaseAttack
from mi_core.config import check_choice, check_positive, check_range
from mi_core.errors import ConfigError
from mi_core.result import AttackResult
from mi_core.threat import Access, Knowledge
from mi_core.views import TargetView
from mi_text.embedding_access import auxiliary_pairs, target_embeddings
from mi_text.metrics import words

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "my",
        "me",
        "him",
        "them",
        "us",
        "not",
        "no",
        "so",
        "than",
        "too",
        "very",
        "can",
        "will",
        "just",
        "do",
        "does",
        "did",
        "has",
        "have",
        "had",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "all",
        "any",
        "both",
        "each",
        "few",
        "more",
        "most",
        "other",
        "some",
        "such",
        "only",
        "own",
        "same",
        "s",
        "t",
        "there",
        "then",
        "into",
        "about",
        "over",
        "after",
        "before",
        "under",
        "again",
        "further",
        "once",
        "also",
        "would",
        "could",
        "should",
        "may",
        "might",
        "one",
        "two",
        "up",
        "out",
        "off",
        "down",
        "new",
        "first",
    ]
)


@dataclass
class KeywordInferenceConfig:
    """Hyper-parameters.

    Attributes:
        classifier: ``mlp`` (3 layers, [42]) or ``svm`` (linear).
        n_keywords: the most frequent content words used when no keyword list is given.
        hidden: hidden units of the MLP.
        max_iter: training iterations of the classifier.
        threshold: decision threshold on the predicted probability (MLP).
        device: checked like every attack's, for one interface: the keyword classifiers are
            scikit-learn's and run on the CPU (embeddings are queried through the view).
    """

    classifier: Literal["mlp", "svm"] = "mlp"
    n_keywords: int = 100
    hidden: int = 80
    max_iter: int = 300
    threshold: float = 0.5
    device: str = "auto"

    def __post_init__(self) -> None:
        devices.check_device(self.device)
        check_choice("classifier", self.classifier, ("mlp", "svm"))
        check_positive("n_keywords", self.n_keywords)
        check_positive("hidden", self.hidden)
        check_positive("max_iter", self.max_iter)
        check_range("threshold", self.threshold, 0.0, 1.0)


def frequent_keywords(texts: list[str], n: int) -> list[str]:
    """The ``n`` most frequent content words (not stop words, not numbers, >= 3 letters)."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update({w for w in words(t) if w not in STOPWORDS and w.isalpha() and len(w) > 2})
    return [w for w, _ in counts.most_common(n)]


def keyword_matrix(texts: list[str], keywords: list[str]) -> np.ndarray:
    index = {k: j for j, k in enumerate(keywords)}
    y = np.zeros((len(texts), len(keywords)), dtype=np.int64)
    for i, t in enumerate(texts):
        for w in set(words(t)):
            j = index.get(w)
            if j is not None:
                y[i, j] = 1
    return y


class KeywordInference(BaseAttack):
    """Per-keyword classifiers from embeddings to "this sentence contains keyword k"."""

    name = "keyword-inference"
    modality = "text"
    access = Access.BLACK_BOX_SCORES
    paper = "Pan et al., IEEE S&P 2020; Song & Raghunathan, CCS 2020"
    summary = "MLP / linear SVM per sensitive keyword on (embedding, keyword present) pairs"
    Config = KeywordInferenceConfig
    requires = ("target_labels:embeddings", "auxiliary:text")

    def _run(self, view: TargetView, knowledge: Knowledge, seed: int) -> AttackResult:
        cfg: KeywordInferenceConfig = self.config
        devices.attack_device(cfg.device, view)  # refuses an unavailable device
        targets = target_embeddings(knowledge).cpu().numpy()
        texts, emb = auxiliary_pairs(view, knowledge)
        keywords = knowledge.extra.get("keywords") or frequent_keywords(texts, cfg.n_keywords)
        keywords = [str(k).lower() for k in keywords]
        y = keyword_matrix(texts, keywords)
        present = y.sum(0)
        usable = [j for j in range(len(keywords)) if 0 < present[j] < len(texts)]
        if not usable:
            raise ConfigError(
                "keywords: none occurs in (and is absent from) the auxiliary sentences; the "
                "classifiers have nothing to learn"
            )
        x = emb.cpu().numpy()
        probs = np.zeros((targets.shape[0], len(keywords)))
        if cfg.classifier == "mlp":
            from sklearn.neural_network import MLPClassifier

            clf = MLPClassifier(
                hidden_layer_sizes=(cfg.hidden, cfg.hidden),
                max_iter=cfg.max_iter,
                random_state=seed,
            )
            clf.fit(x, y[:, usable])
            probs[:, usable] = clf.predict_proba(targets)
        else:
            from sklearn.svm import LinearSVC

            for j in usable:
                svm = LinearSVC(C=1.0, random_state=seed).fit(x, y[:, j])
                probs[:, j] = 1.0 / (1.0 + np.exp(-svm.decision_function(targets)))
        pred = probs >= cfg.threshold
        sets = [[keywords[j] for j in np.flatnonzero(row)] for row in pred]
        return self._result(
            [" ".join(s) for s in sets],
            scores=torch.as_tensor(probs, dtype=torch.float32, device="cpu"),
            info={
                "keywords": keywords,
                "predicted": sets,
                "prevalence": (present / len(texts)).tolist(),
            },
        )
