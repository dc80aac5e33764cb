"""The ``mi`` command line.

mi list [attacks|defenses|cases]      what is installed
mi run ATTACK --config FILE.toml      one attack against one target
mi audit FILE.toml | --demo           every (target, attack, defense) cell, with a report
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mi_core.errors import ConfigError, MIError

EPILOG = """examples:
  mi list                              attacks installed, with modality, access and paper
  mi audit --demo                      audit the built-in demo targets, write an HTML report
  mi run mi-face --config run.toml     one attack; see `mi run --help` for the file format
"""

RUN_HELP = """The config file (TOML) names the target and the attack's settings:

  seed = 0
  out = "mi-run"                 # where the result is written (optional)

  [target]
  case = "digits-softmax"        # a built-in target (`mi list cases`)
  access = "white-box"           # white-box | black-box-scores | black-box-topk | label-only
  budget = 10000                 # query budget for black-box access (optional)
  k = 3                          # for black-box-topk

  [attack]                       # the attack's own fields (see its docstring)
  max_iter = 2000
"""

AUDIT_HELP = """--demo audits every installed built-in case with its default attacks and
defenses. A FILE (TOML) names targets, the access to grant, attacks and defenses.
Finished cells are skipped on a rerun (--no-resume recomputes them).
"""


def _audit_help() -> str:
    from mi_core.audit import config

    doc = config.__doc__ or ""
    return AUDIT_HELP + "\n" + doc.split("\n\n", 1)[1] if "\n\n" in doc else AUDIT_HELP


def _table(rows: list[dict[str, str]], cols: list[str]) -> str:
    if not rows:
        return "(none installed)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    line = "  ".join(c.ljust(widths[c]) for c in cols)
    out = [line, "  ".join("-" * widths[c] for c in cols)]
    for r in rows:
        out.append("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols))
    return "\n".join(out)


def cmd_list(args: argparse.Namespace) -> int:
    from mi_core.registry import case_entries, list_attacks, list_defenses

    what = args.what
    if what in ("attacks", "all"):
        print("Attacks")
        print(_table(list_attacks(), ["name", "modality", "access", "paper"]))
    if what in ("defenses", "all"):
        print("\nDefenses")
        print(_table(list_defenses(), ["name", "kind", "modality", "paper"]))
    if what in ("cases", "all"):
        print("\nBuilt-in cases")
        rows = []
        for name, entry in case_entries().items():
            cls = entry.load()
            rows.append({"name": name, "modality": cls.modality, "description": cls.description})
        print(_table(rows, ["name", "modality", "description"]))
    return 0


def _load_toml(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--config: {p} does not exist")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc


def _check_keys(section: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in section:
        if key not in allowed:
            raise ConfigError(
                f"{where}.{key}: unknown field; allowed fields: {', '.join(sorted(allowed))}"
            )


def cmd_run(args: argparse.Namespace) -> int:
    from mi_core.audit.runner import CellSpec, run_cell
    from mi_core.threat import Access

    cfg = _load_toml(args.config)
    _check_keys(cfg, {"seed", "out", "target", "attack"}, args.config)
    target = cfg.get("target")
    if not isinstance(target, dict) or "case" not in target:
        raise ConfigError(f"{args.config}: [target] with a `case` is required (see mi run --help)")
    _check_keys(target, {"case", "access", "budget", "k"}, f"{args.config}: target")
    access = Access.parse(target.get("access", "white-box"), "target.access").value
    attack_cfg = dict(cfg.get("attack", {}))
    spec = CellSpec(
        case=target["case"],
        attack=args.attack,
        access=access,
        config=attack_cfg,
        budget=target.get("budget"),
        seed=int(cfg.get("seed", 0)),
    )
    out = Path(args.out or cfg.get("out", "mi-run"))
    rec = run_cell(asdict(spec), str(out))
    return _print_record(rec, out)


def _print_record(rec: dict[str, Any], out: Path) -> int:
    status = rec["status"]
    print(f"{rec['id']}: {status}")
    if status != "ok":
        print(rec.get("message", ""), file=sys.stderr)
        if rec.get("traceback"):
            print(rec["traceback"], file=sys.stderr)
        return 2 if status == "not-applicable" else 1
    for fig in rec["figures"]:
        bl = fig.get("baseline") or {}
        print(
            f"  {fig['metric']:<22} {fig['value']:.4f}   baseline "
            f"{bl.get('name', '-')}: {bl.get('value', float('nan')):.4f}"
        )
    print(f"result: {out / 'cells' / rec['id']}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from mi_core.audit.config import load_audit_config
    from mi_core.audit.executors import get_executor
    from mi_core.audit.plan import demo_cells, plan_cells
    from mi_core.audit.runner import run_cells
    from mi_core.report.html import render_report

    if args.demo == bool(args.file):
        raise ConfigError("audit: give either a config FILE.toml or --demo (see mi audit --help)")
    if args.demo:
        specs = demo_cells(args.seed, shards=args.shards or 1)
        out = Path(args.out or "mi-audit-demo")
        title = "Model inversion audit: built-in demo targets"
    else:
        # model modules named in [targets.options] may sit beside the audit file
        folder = str(Path(args.file).resolve().parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        cfg = load_audit_config(args.file)
        if args.shards:
            from dataclasses import replace

            cfg = replace(cfg, shards=args.shards)
        specs = plan_cells(cfg)
        out = Path(args.out or cfg.out)
        title = cfg.title
    executor = get_executor(args.executor, address=args.address, num_cpus=args.num_cpus)
    t0 = time.perf_counter()
    records = run_cells(specs, out, executor=executor, resume=not args.no_resume)
    report = render_report(records, out, title=title)
    for r in records:
        line = f"{r['status']:<15} {r['id']}"
        figs = r.get("figures") or []
        if figs:
            f = figs[0]
            bl = (f.get("baseline") or {}).get("value")
            line += f"   {f['metric']}={f['value']:.3f}"
            line += "" if bl is None else f" (baseline {bl:.3f})"
        print(line)
    print(f"\n{len(records)} cells in {time.perf_counter() - t0:.0f} s")
    print(f"report: {report.resolve()}")
    failed = [r for r in records if r["status"] == "error"]
    for r in failed:
        print(f"\n{r['id']} failed:\n{r.get('traceback', r.get('message'))}", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mi",
        description="Model inversion toolbox: audit models for training-data leakage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_list = sub.add_parser("list", help="list installed attacks, defenses and built-in cases")
    p_list.add_argument(
        "what", nargs="?", default="all", choices=["all", "attacks", "defenses", "cases"]
    )
    p_list.set_defaults(func=cmd_list)

    p_run = sub.add_parser(
        "run",
        help="run one attack against one target",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument("attack", help="attack name (see `mi list attacks`)")
    p_run.add_argument("--config", required=True, help="TOML file with [target] and [attack]")
    p_run.add_argument("--out", help="output directory (default: the file's `out` or ./mi-run)")
    p_run.set_defaults(func=cmd_run)

    p_audit = sub.add_parser(
        "audit",
        help="run an audit and write an HTML report",
        description=_audit_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_audit.add_argument("file", nargs="?", help="audit config (TOML)")
    p_audit.add_argument("--demo", action="store_true", help="audit the built-in demo targets")
    p_audit.add_argument("--out", help="output directory")
    p_audit.add_argument("--seed", type=int, default=0, help="seed for --demo (default 0)")
    p_audit.add_argument(
        "--no-resume", action="store_true", help="rerun cells whose results are already on disk"
    )
    p_audit.add_argument(
        "--executor",
        default="local",
        choices=["local", "ray", "isolated"],
        help="run cells in this process (local), as Ray tasks (ray), or each attack in a child "
        "process that reaches the target only through counted queries (isolated)",
    )
    p_audit.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    p_audit.add_argument("--num-cpus", type=int, help="CPUs of a local Ray (default: all)")
    p_audit.add_argument(
        "--shards", type=int, help="split image attacks' target classes into this many tasks"
    )
    p_audit.set_defaults(func=cmd_audit)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except MIError as exc:
        print(f"mi: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
