"""Privacy-utility plots of the defense benchmark: per modality, one panel per (case, attack),
the attack's figure against the utility for each defense's strengths, the undefended target as a
star. ``python benchmarks/defense_plot.py [results/defense.json] [--markdown]`` (the README's
tables)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plot(records: list[dict], out_dir: Path, stem: str) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[skip] plot: matplotlib is not installed")
        return []
    written = []
    for modality in dict.fromkeys(r.get("modality") for r in records):
        rows = [r for r in records if r.get("modality") == modality and r.get("attack") != "-"]
        panels = list(dict.fromkeys((r["case"], r["attack"], r["metric"]) for r in rows))
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.2), squeeze=False)
        for ax, (case, attack, metric) in zip(axes[0], panels):
            sub = [
                r for r in rows if (r["case"], r["attack"], r["metric"]) == (case, attack, metric)
            ]
            for d in dict.fromkeys(r["method"] for r in sub if r["method"] != "none"):
                pts = [r for r in sub if r["method"] == d]
                ax.plot(
                    [r["utility"]["value"] for r in pts],
                    [r["value"] for r in pts],
                    "o-",
                    label=d,
                    alpha=0.8,
                    ms=4,
                )
            base = [r for r in sub if r["method"] == "none"]
            if base:
                ax.plot(
                    base[0]["utility"]["value"], base[0]["value"], "k*", ms=14, label="undefended"
                )
                bl = base[0].get("baseline")
                if bl and bl.get("value") is not None:
                    ax.axhline(
                        bl["value"], color="grey", ls="--", lw=1, label=f"no model: {bl['name']}"
                    )
            util = sub[0]["utility"]["metric"]
            better = "higher" if sub[0]["higher_is_better_for_attacker"] else "lower"
            ax.set_xlabel(f"utility: {util}")
            ax.set_ylabel(f"{metric} ({better} = stronger attack)")
            ax.set_title(f"{case}: {attack}", fontsize=9)
            ax.legend(fontsize=6)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"{stem}-{modality}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(records: list[dict]) -> str:
    """One table per modality: per (case, attack, defense), the attack's figure and the utility
    at each strength (``figure / utility``), beside the undefended ones."""
    out = []
    for modality in dict.fromkeys(r.get("modality") for r in records):
        rows = [r for r in records if r.get("modality") == modality]
        out.append(f"#### {modality}\n")
        out.append(
            "| case | attack: figure | no model | undefended: figure / utility | "
            "defense | strength: figure / utility |"
        )
        out.append("|---|---|---|---|---|---|")
        groups = dict.fromkeys((r["case"], r["attack"], r["metric"], r["method"]) for r in rows)
        for case, attack, metric, method in groups:
            if method == "none":
                continue
            pts = [
                r
                for r in rows
                if (r["case"], r["attack"], r["metric"], r["method"])
                == (case, attack, metric, method)
            ]
            first = pts[0]
            bl = (first.get("baseline") or {}).get("value")
            arrow = "" if first["higher_is_better_for_attacker"] else " (lower = stronger)"
            und = f"{_fmt(first['undefended'])} / {_fmt(first['utility']['undefended'])}"
            cells = []
            for r in pts:
                st = (
                    ", ".join(
                        f"{k} {v}"
                        for k, v in (r.get("strength") or {}).items()
                        if k not in ("release", "measure")
                    )
                    or "-"
                )
                an = r.get("anchor")
                tail = f" (anchor {an['value']})" if an else ""
                cells.append(f"{st}: {_fmt(r['value'])} / {_fmt(r['utility']['value'])}{tail}")
            util = first["utility"]["metric"]
            out.append(
                f"| {case} | {attack}: {metric}{arrow} | {_fmt(bl)} | {und} ({util}) | "
                f"{method} | {'; '.join(cells)} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = Path(args[0]) if args else HERE / "results" / "defense.json"
    doc = json.loads(src.read_text())
    if "--markdown" in sys.argv:
        print(markdown(doc["records"]))
    else:
        print(plot(doc["records"], src.parent, src.stem))
