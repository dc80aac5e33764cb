"""A picture of the tabular benchmark: per case, each attack's accuracy (mean, error bar = sd
over seeds) beside the prior, the no-model imputation and (grey) ART's attacks.
``python benchmarks/tabular_plot.py [json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def plot(records: list[dict], out: Path) -> Path | None:
    """Write a bar chart of ``records`` to ``out`` (PNG); ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("[skip] plot: matplotlib is not installed (uv run --group bench ...)")
        return None
    cases = list(dict.fromkeys(r["case"] for r in records))
    fig, axes = plt.subplots(len(cases), 1, figsize=(10, 2.2 + 0.42 * len(records)), squeeze=False)
    for ax, case in zip(axes[:, 0], cases):
        rows = [r for r in records if r["case"] == case]
        names = [
            r["method"].split(" (")[0] if r["method"].startswith("ART") else r["method"]
            for r in rows
        ]
        vals = [r["value"] for r in rows]
        colors = ["#b0b0b0" if r["method"].startswith("ART") else "#3366aa" for r in rows]
        y = range(len(rows))
        spread = [r.get("spread") or 0.0 for r in rows]  # sd over seeds
        ax.barh(y, vals, xerr=spread, color=colors, error_kw={"lw": 0.8, "capsize": 2})
        ax.set_yticks(list(y), names, fontsize=8)
        ax.invert_yaxis()
        ref = rows[0]
        if ref.get("prior_only") is not None:
            ax.axvline(ref["prior_only"], color="#aa3333", ls=":", label="prior only")
        nm = ref.get("no_model")
        if nm is not None:
            ax.axvline(nm, color="#222222", ls="--", label="no-model imputation")
        if ref.get("before_poisoning") is not None:
            ax.axvline(ref["before_poisoning"], color="#dd8800", ls="--", label="before poisoning")
        if ref.get("ideal") is not None:
            ax.axvline(ref["ideal"], color="#33aa55", ls="-.", label="ideal predictor")
        for i, r in enumerate(rows):
            ax.text(
                r["value"] + (r.get("spread") or 0.0) + 0.005,
                i,
                f"{r['value']:.3f}  {r['seconds']}s",
                va="center",
                fontsize=7,
            )
        ax.set_xlim(0.3, 1.08)
        ax.set_title(case, fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="lower right")
    axes[-1, 0].set_xlabel("attribute accuracy (blue: mi-tabular, grey: ART)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results" / "tabular.json"
    doc = json.loads(src.read_text())
    print(plot(doc["records"], src.with_suffix(".png")))
