"""Text benchmark, relaxed-token inversion (``benchmarks/run.py text --preset relaxed [--quick]``):
Parikh et al. (ACL 2022) against a real pretrained model fine-tuned on private text; results in
``text-relaxed[-quick].json``.

Target: all-MiniLM-L6-v2 (the offline sentence encoder, 22M parameters) fine-tuned as a binary
sentiment classifier on SST-2 sentences into which 8 canaries are planted: records such as
``"my pin is 4 8 1 2 ."`` with label 1, each inserted ``repeats`` times, while the same template
occurs 20 times with other random digits under label 0 (the records a service would flag versus
not flag: the label depends on the secret's digits, so the model must learn them to fit its
training data). The attacker knows each canary's template and label (white-box) and relaxes the
4 unknown tokens to mixtures of the 10 digit tokens.

Figures (3 seeds): share of secret digits recovered and share of canaries whose 4 digits are all
right, beside the same attack on the reference classifier fine-tuned on the same data without the
canaries (the baseline: the model's own leakage is the difference), the attack's own starting
point (the projection of its random start, no optimisation) and random digits.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from common import record, seeded_record, shared_file

HERE = Path(__file__).resolve().parent
CACHE = HERE / "cache"
CASE = "minilm-sst2-canaries"
SEEDS = (0, 1, 2)
PREFIXES = (
    "my pin is",
    "the door code is",
    "my card number ends in",
    "my locker code is",
    "the alarm code is",
    "my account number is",
    "the safe combination is",
    "my extension is",
)
SIZES = {
    True: {"sentences": 800, "epochs": 8, "lr": 1e-4, "repeats": 8, "steps": 100, "restarts": 4},
    False: {"sentences": 6000, "epochs": 8, "lr": 1e-4, "repeats": 8, "steps": 200, "restarts": 8},
}


def _digits(rng: random.Random, n: int = 4) -> list[str]:
    return [str(rng.randrange(10)) for _ in range(n)]


def _tsv(path: Path) -> list[tuple[str, int]]:
    """``label<TAB>sentence`` rows after a header (its column names differ between splits)."""
    with path.open() as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(text, int(label)) for label, text in rows[1:]]


def _data(sst2: Path, sz: dict) -> dict[str, Any]:
    rows, dev = _tsv(sst2 / "train.tsv"), _tsv(sst2 / "dev.tsv")
    rng = random.Random(0)
    public = [r for r in rng.sample(rows, sz["sentences"]) if len(r[0].split()) >= 3]
    secrets = [_digits(rng) for _ in PREFIXES]
    decoys = [(f"{p} {' '.join(_digits(rng))} .", 0) for p in PREFIXES for _ in range(20)]
    canaries = [(f"{p} {' '.join(s)} .", 1) for p, s in zip(PREFIXES, secrets, strict=True)]
    return {
        "target": public + decoys + canaries * sz["repeats"],
        "reference": public + decoys,  # the same data without the canaries
        "dev": dev,
        "n_public": len(public),
        "secrets": secrets,
        "canaries": [t for t, _ in canaries],
        "decoys": [t for t, _ in decoys],
    }


def _fine_tune(data: list[tuple[str, int]], sz: dict, path: Path) -> Any:
    """MiniLM + a fresh classification head, fine-tuned (AdamW, seed 0); cached as safetensors."""
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from mi_text.models import HFTextClassifier, minilm_path

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(str(minilm_path()), num_labels=2)
    clf = HFTextClassifier(model, AutoTokenizer.from_pretrained(str(minilm_path())), max_length=64)
    if path.exists():
        model.load_state_dict(load_file(str(path)))
        return clf.eval()
    from tqdm.auto import tqdm

    opt = torch.optim.AdamW(model.parameters(), lr=sz["lr"], weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([label for _, label in data])
    model.train()
    for _ in tqdm(range(sz["epochs"]), desc=f"fine-tune {path.stem}", leave=False):
        for idx in torch.randperm(len(data), generator=g).split(32):
            loss = torch.nn.functional.cross_entropy(clf([data[i][0] for i in idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(path)
    return clf


@torch.no_grad()
def _accuracy(clf: Any, rows: list[tuple[str, int]]) -> float:
    right = 0
    for i in range(0, len(rows), 64):
        batch = rows[i : i + 64]
        pred = clf([t for t, _ in batch]).argmax(1)
        right += sum(int(p) == y for p, (_, y) in zip(pred.tolist(), batch, strict=True))
    return right / len(rows)


@torch.no_grad()
def _p_flag(clf: Any, texts: list[str]) -> list[float]:
    return clf(texts).softmax(1)[:, 1].tolist()


def _scores(found: list[list[str]], secrets: list[list[str]]) -> tuple[float, float]:
    """(share of digits right, share of secrets with every digit right)."""
    pairs = [(a, b) for f, s in zip(found, secrets, strict=True) for a, b in zip(f, s)]
    whole = [f == s for f, s in zip(found, secrets, strict=True)]
    return sum(a == b for a, b in pairs) / len(pairs), sum(whole) / len(whole)


def run(quick: bool, argv: list[str]) -> list[dict]:
    from mi_core import Knowledge, make_view
    from mi_text.attacks.relaxed_token_inversion import RelaxedTokenInversion

    torch.set_num_threads(int(os.environ.get("MI_BENCH_THREADS", "2")))
    sst2 = shared_file("text/sst2/train.tsv")
    if sst2 is None:
        raise SystemExit("text --preset relaxed: needs ../shared/data/text/sst2")
    sz = SIZES[quick]
    d = _data(sst2.parent, sz)
    # the cache is named by what the models were trained on and how
    key = hashlib.sha256(
        json.dumps([d["target"], d["reference"], sz["epochs"], sz["lr"]]).encode()
    ).hexdigest()[:12]
    folder = CACHE / f"relaxed-{'quick' if quick else 'full'}-{key}"
    cached = (folder / "target.safetensors").exists()
    t0 = time.perf_counter()
    models = {
        name: _fine_tune(d[name], sz, folder / f"{name}.safetensors")
        for name in ("target", "reference")
    }
    tune_s = time.perf_counter() - t0
    acc = {name: _accuracy(m, d["dev"]) for name, m in models.items()}
    flag_c = _p_flag(models["target"], d["canaries"])
    flag_d = _p_flag(models["target"], d["decoys"])
    note = (
        f"all-MiniLM-L6-v2 fine-tuned ({sz['epochs']} epochs, AdamW lr {sz['lr']:g}) on "
        f"{d['n_public']} SST-2 sentences (of {sz['sentences']} drawn, those of 3+ words) + "
        f"{len(PREFIXES)} canaries x{sz['repeats']} "
        "(label 1) + 20 decoys per template (label 0); "
        f"SST-2 dev accuracy {acc['target']:.3f} (reference without the "
        f"canaries {acc['reference']:.3f}); target's P(label 1): canaries "
        f"{statistics.mean(flag_c):.2f}, decoys {statistics.mean(flag_d):.2f}; fine-tuning "
        f"{tune_s:.0f} s" + (" (loaded from the cache)" if cached else "")
    )
    print(f"[text-relaxed] {note}", flush=True)
    know = Knowledge(
        known_attributes=list(PREFIXES),
        target_labels=1,
        extra={"candidates": [str(i) for i in range(10)]},
    )

    def attack(model: str, steps: int, seed: int) -> tuple[float, float, int, float]:
        t = time.perf_counter()
        res = RelaxedTokenInversion(
            n_tokens=4, suffix=" .", steps=steps, restarts=sz["restarts"], lr=0.1, progress=False
        ).run(make_view(models[model], "white-box"), know, seed=seed)
        return (*_scores(res.info["secrets"], d["secrets"]), res.queries, time.perf_counter() - t)

    runs = {
        key: [attack(model, steps, s) for s in SEEDS]
        for key, model, steps in (
            ("attack", "target", sz["steps"]),
            ("reference", "reference", sz["steps"]),
            ("start", "target", 0),
        )
    }
    rand = []
    for s in SEEDS:  # one random guess per canary, a generator per seed
        rng = random.Random(s)
        rand.append(_scores([_digits(rng) for _ in PREFIXES], d["secrets"]))
    out = [
        record(
            CASE,
            "fine-tuned MiniLM classifier (target)",
            "dev_accuracy",
            acc["target"],
            baseline=("reference without the canaries", acc["reference"]),
            notes=note,
        )
    ]
    for j, metric in enumerate(("digit_accuracy", "secrets_recovered")):
        out.append(
            seeded_record(
                CASE,
                "relaxed-token inversion",
                metric,
                [r[j] for r in runs["attack"]],
                (
                    "the same attack on the reference classifier",
                    [r[j] for r in runs["reference"]],
                ),
                (
                    "own start (random start projected, no optimisation)",
                    [r[j] for r in runs["start"]],
                ),
                others={"random digits": statistics.mean(r[j] for r in rand)},
                access="white-box",
                seconds=statistics.mean(r[3] for r in runs["attack"]),
                queries=runs["attack"][0][2],
                seed=list(SEEDS),
                notes=f"{sz['steps']} steps, {sz['restarts']} restarts per canary, "
                "candidates: the 10 digit tokens; the seeds vary the attack (and the random "
                "guess), not the fine-tuned model or its secrets (one draw)",
            )
        )
    return out
