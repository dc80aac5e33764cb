"""Paper-scale text preset: ``uv run python benchmarks/run.py text --preset paper [options]``.

Training-data extraction from a GPT-class model at the scale of Carlini et al. (USENIX Security
2021, survey [36]), on a GPU: the target is a pretrained causal LM loaded from a local folder
(``--model``: GPT-2 XL in the paper, any transformers causal LM), the reference model of the
``reference`` ranking another (``--reference``: GPT-2 small in the paper). ``--samples`` texts
of ``--tokens`` tokens are sampled with top-k 40 and the paper's decaying temperature (10 -> 1
over the first 20 tokens), optionally from internet-text prompts (``--prompts FILE``, one
document per line: the paper's Common Crawl prompts), and ranked by perplexity, zlib and
reference ratios (the lowercase ratio needs a second pass over every sample and is left out).
With ``--corpus FILE`` (text the model was trained on, one document per line, e.g. an
OpenWebText slice) the top ``--top`` samples of each ranking are checked for memorised spans
(a ``--ngram``-token window found in the corpus), beside the samples in generation order.

Before anything runs, the preset names what it needs, checks it is there (and refuses with what
to get otherwise) and prints the expected GPU time. Records go to
``benchmarks/results/text-paper.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RANKINGS = ("perplexity", "zlib", "reference")  # lowercase needs a second scoring pass

#: rough GPU seconds per 1,000 generated tokens of a 1.5B model at batch 64 on one
#: A100/H100-class GPU (sampling dominates); assumed, not measured (no GPU where this preset
#: was written): the printed estimate is an order of magnitude
SECONDS_PER_KTOKEN = 0.05


class PresetRefused(SystemExit):
    """The preset cannot run here: the message says what is missing and how to get it."""


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run.py text --preset paper", description=__doc__)
    p.add_argument("--preset", choices=["paper"], default="paper")
    p.add_argument("--model", help="local folder of the target causal LM (GPT-2 XL in the paper)")
    p.add_argument("--reference", help="local folder of the reference LM (GPT-2 small)")
    p.add_argument("--samples", type=int, default=200_000)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--prompts", help="internet-text prompts, one document per line (optional)")
    p.add_argument("--corpus", help="training text for the memorisation check (optional)")
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--ngram", type=int, default=50)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dry-run", action="store_true", help="check the inputs, print the estimate")
    return p.parse_args(argv)


def _model_dir(flag: str, value: str | None, what: str) -> list[str]:
    if not value:
        return [f"{flag}: not given ({what}: a local transformers folder with config.json)"]
    if not (Path(value) / "config.json").exists():
        return [f"{flag}: {Path(value) / 'config.json'} does not exist ({what})"]
    return []


def check(args: argparse.Namespace) -> None:
    """Name what the preset needs and check it is there; refuse otherwise."""
    problems = _model_dir("--model", args.model, "the target, GPT-2 XL in the paper")
    problems += _model_dir("--reference", args.reference, "the reference, GPT-2 small")
    for flag, value in (("--prompts", args.prompts), ("--corpus", args.corpus)):
        if value and not Path(value).is_file():
            problems.append(f"{flag}: {value} is not a file")
    if args.samples < args.top:
        problems.append(f"--samples: {args.samples} samples cannot fill a top {args.top}")
    if problems:
        raise PresetRefused(
            "text --preset paper cannot run here:\n  "
            + "\n  ".join(problems)
            + "\nNothing is downloaded: save the models with transformers' save_pretrained "
            "(e.g. gpt2-xl and gpt2) on a machine with internet and pass their folders."
        )


def estimate(args: argparse.Namespace) -> str:
    tokens = args.samples * args.tokens
    gen = SECONDS_PER_KTOKEN * tokens / 1000
    score = gen * 0.3  # scoring every sample under the reference model (rough)
    return "\n".join(
        [
            "expected GPU time (rough, assumed throughput of a 1.5B model on one "
            "A100/H100-class GPU; not measured):",
            f"  sampling   {args.samples:,} x {args.tokens} tokens: ~{gen / 3600:.1f} h",
            f"  ranking    reference-model scores: ~{score / 3600:.1f} h",
            f"  total      ~{(gen + score) / 3600:.1f} h",
        ]
    )


def _lines(path: str | None) -> list[str] | None:
    if not path:
        return None
    return [ln.strip() for ln in Path(path).read_text().splitlines() if ln.strip()]


def run(quick: bool, argv: list[str]) -> list[dict[str, Any]]:
    """The preset (``quick`` is ignored: the paper scale has no quick form)."""
    sys.path.insert(0, str(HERE))
    from common import record

    args = parse(argv)
    check(args)
    print(estimate(args), flush=True)
    if args.dry_run:  # nothing ran: no result file
        raise SystemExit(0)
    from mi_core import Knowledge, make_view
    from mi_core.device import describe, get_device
    from mi_text.attacks.perplexity_extraction import PerplexityExtraction
    from mi_text.models import load_causal_lm
    from mi_text.ngram_index import NgramIndex

    device = get_device(args.device, "--device")
    print(f"device: {describe(device)}", flush=True)
    target = load_causal_lm(args.model).to(device)
    reference = load_causal_lm(args.reference)
    corpus = _lines(args.corpus)
    index = None
    if corpus is not None:
        index = NgramIndex.build((target.encode(d, start=False) for d in corpus), args.ngram)
    # one sampling run; its result carries every ranking's scores (arrays), in its own order
    attack = PerplexityExtraction(
        n_samples=args.samples,
        max_new_tokens=args.tokens,
        top_k=40,
        temperature_start=10.0,
        temperature_end=1.0,
        decay_tokens=20,
        prompt_words=10 if args.prompts else 0,
        ranking="reference",
        batch_size=args.batch,
        device=str(device),
    )
    view = make_view(target, "black-box-scores", postprocess=None)
    t0 = time.perf_counter()
    res = attack.run(view, Knowledge(prior=reference, auxiliary=_lines(args.prompts)), seed=0)
    seconds = time.perf_counter() - t0
    texts = list(res.reconstructions)
    tops = {"none (generation order)": list(res.info["unranked"])[: args.top]}
    for ranking in RANKINGS:
        order = res.arrays[ranking].argsort(stable=True).tolist()
        tops[ranking] = [texts[i] for i in order[: args.top]]
    records: list[dict[str, Any]] = []
    name = Path(args.model).name
    for ranking, top in tops.items():
        value: float | None = None
        if index is not None:
            hits = [bool(index.spans(target.encode(t, start=False))) for t in top]
            value = sum(hits) / max(1, len(hits))
        records.append(
            record(
                name,
                f"perplexity-extraction ({ranking})",
                "memorised_share_of_top" if value is not None else "top_samples",
                value if value is not None else float(len(top)),
                access="black-box-scores",
                seconds=seconds,
                queries=view.queries,
                notes=f"{args.samples:,} samples x {args.tokens} tokens, top {args.top}, "
                f"{args.ngram}-token windows; {describe(device)}",
            )
        )
    print(f"sampling and ranking: {seconds / 60:.0f} min", flush=True)
    return records
