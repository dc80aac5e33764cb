"""Markdown tables of ``benchmarks/results/vision[-quick].json`` for the mi-vision README:
``uv run python benchmarks/vision_table.py [--quick]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _f(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def _pair(rec: dict | None, nd: int = 3) -> str:
    """``value (baseline)`` of a record, ``-`` when absent."""
    if rec is None:
        return "-"
    base = (rec.get("baseline") or {}).get("value")
    return f"{_f(rec['value'], nd)} ({_f(base, nd)})"


def tables(doc: dict) -> str:
    recs = doc["records"]
    out = []
    cases = list(dict.fromkeys(r["case"] for r in recs))
    for case in cases:
        rows = [r for r in recs if r["case"] == case]
        by = {}
        for r in rows:
            by.setdefault(r["method"], {})[r["metric"]] = r
        out.append(f"### {case}\n")
        tgt = by.get("target", {}).get("test_accuracy")
        if tgt:
            out.append(f"Target test accuracy {tgt['value']:.3f}; {tgt['notes']}.\n")
        out.append(
            "| attack | access | eval top-1 (baseline) | top-5 (baseline) | KNN dist (baseline) "
            "| PSNR / SSIM | FID eval-feat (baseline) | s / class | queries / class |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for method, m in by.items():
            if "eval_top1" not in m:
                continue
            t1, t5, knn = m["eval_top1"], m.get("eval_top5"), m.get("knn_distance")
            psnr, ssim, fid = m.get("psnr"), m.get("ssim"), m.get("fid_eval_features")
            q = t1.get("queries_per_class") if t1["access"] != "white-box" else None
            out.append(
                f"| {method} | {t1['access']} | {_pair(t1)} | {_pair(t5)} | {_pair(knn, 0)} "
                f"| {_f(psnr['value'], 1) if psnr else '-'} / "
                f"{_f(ssim['value'], 2) if ssim else '-'} | {_pair(fid, 0)} "
                f"| {_f(t1.get('seconds_per_class'), 1)} | {'-' if q is None else f'{q:.0f}'} |"
            )
        out.append("")
        out.append("Per-class top-1 and the evaluation model's prediction histograms:\n")
        out.append(
            "| attack | per-class top-1 | eval histogram (attack) | eval histogram (baseline) |"
        )
        out.append("|---|---|---|---|")
        for method, m in by.items():
            if "eval_top1" not in m:
                continue
            t1 = m["eval_top1"]
            pc = " ".join(f"{v:.2f}" for v in t1["per_class_top1"].values())
            out.append(
                f"| {method} | {pc} | {t1['eval_histogram']} | {t1['baseline_eval_histogram']} |"
            )
        out.append("")
        for m in by.values():
            if "seconds_per_class" in m:
                s = m["seconds_per_class"]
                out.append(
                    f"Batching ({s['notes']}): {s['value']:.2f} s per class in one batch vs "
                    f"{s['anchor']['value']:.2f} s one class at a time.\n"
                )
        priors = [
            f"{method.split(':', 1)[1]} {m['train_seconds']['value']:.0f} s"
            for method, m in by.items()
            if method.startswith("prior:")
        ]
        if priors:
            out.append("Prior training (cached afterwards): " + ", ".join(priors) + ".\n")
    return "\n".join(out)


if __name__ == "__main__":
    name = "vision-quick.json" if "--quick" in sys.argv else "vision.json"
    print(tables(json.loads((HERE / "results" / name).read_text())))
