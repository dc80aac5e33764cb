"""The ``mi`` command line.

mi list [attacks|defenses|cases]      what is installed (cases --options CASE: its options)
mi run ATTACK --config FILE.toml      one attack against one target (--help-config: settings)
mi audit FILE.toml | --demo           every (target, attack, defense) cell, with a report
                                      (--dry-run: the plan, priors and a rough time estimate)

Every error is one line naming the file, line and field, and the exit status is 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mi_core.errors import ConfigError, MIError

EPILOG = """examples:
  mi list                              attacks installed, with modality, access and paper
  mi list cases --options image-model  every option of a case, with type, default and meaning
  mi audit --demo                      audit the built-in demo targets, write an HTML report
  mi audit audit.toml --dry-run        the cells, skipped attacks, priors and a time estimate
  mi run mi-face --config run.toml     one attack; see `mi run --help` for the file format
  mi run mi-face --help-config         every setting of an attack, with type, default, meaning
"""

RUN_HELP = """The config file (TOML) names the target and the attack's settings:

  seed = 0
  out = "mi-run"                 # where the result is written (optional)

  [target]
  case = "digits-softmax"        # a built-in target (`mi list cases`)
  access = "white-box"           # white-box | black-box-scores | black-box-topk | label-only
  budget = 10000                 # query budget for black-box access (optional)
  k = 3                          # for black-box-topk
  device = "auto"                # auto | cpu | cuda | cuda:N (or --device); results on the CPU
  precision = "fp32"             # fp32 | bf16 | fp16 (or --precision)
  [target.options]               # the case's options (`mi list cases --options CASE`)

  [attack]                       # the attack's settings (`mi run ATTACK --help-config`)
  max_iter = 2000

Everything is checked before the attack runs: the file, the case and its options, the access
the attack needs, the knowledge it needs and its settings.
"""

AUDIT_HELP = """--demo audits every installed built-in case with its default attacks and
defenses (--case NAME keeps one). A FILE (TOML) names targets, the access to grant, attacks
and defenses.
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
    if getattr(args, "options", None):
        return _print_case_options(args.options)
    if what in ("cases", "all"):
        print("\nBuilt-in cases")
        rows = []
        for name, entry in case_entries().items():
            cls = entry.load()
            rows.append({"name": name, "modality": cls.modality, "description": cls.description})
        print(_table(rows, ["name", "modality", "description"]))
        print("\n`mi list cases --options CASE` prints a case's options ([targets.options]).")
    return 0


def _print_case_options(name: str) -> int:
    from mi_core.config import format_fields
    from mi_core.registry import get_case

    cls = get_case(name)
    options = getattr(cls, "Options", None)
    print(f"{name} ({cls.modality}): {cls.description}")
    if options is None:
        print("Takes no options ([targets.options] must be empty).")
        return 0
    print("Options ([targets.options] in an audit file, [target.options] in a `mi run` file):")
    print(format_fields(options))
    return 0


def _print_attack_config(name: str) -> int:
    from mi_core.attack import describe_knowledge
    from mi_core.config import format_fields
    from mi_core.registry import get_attack

    cls = get_attack(name)
    print(f"{name} ({cls.modality}, {cls.access.value} access): {cls.summary or cls.paper}")
    if cls.paper:
        print(f"Paper: {cls.paper}")
    needs = [" or ".join(describe_knowledge(a) for a in r.split("|")) for r in cls.requires]
    if needs:
        print("Needs: " + "; ".join(needs))
    print(f"Settings ([attack] in a `mi run` file, [attacks.config.{name}] in an audit file):")
    print(format_fields(cls.Config))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from mi_core.audit.config import (
        add_to_import_path,
        case_instance,
        check_output_folder,
        parse_run_config,
        read_text_file,
    )
    from mi_core.audit.plan import skip_reason
    from mi_core.audit.runner import CellSpec, run_cell
    from mi_core.registry import get_attack
    from mi_core.threat import Access

    if args.help_config:
        return _print_attack_config(args.attack)
    _device_overrides(args)  # checked before the file is read
    if not args.config:
        raise ConfigError(
            "--config: required: a TOML file naming the target (see mi run --help; "
            f"mi run {args.attack} --help-config lists the attack's settings)"
        )
    text = read_text_file(args.config, "run file")
    add_to_import_path(Path(args.config).parent)
    rc = parse_run_config(text, args.config, args.attack)
    t = rc.target
    access = Access.parse(t.access[0])
    cls = get_attack(args.attack)
    if not access.covers(cls.access):
        raise ConfigError(
            f"{args.config}: target.access: attack {args.attack!r} needs {cls.access.value} "
            f"access (or stronger); the file grants {access.value}"
        )
    attack = cls(rc.attack_config)
    case = case_instance(t.case, t.options)
    missing = attack.missing_knowledge(case.provides(access))
    if missing:
        raise ConfigError(
            f"{args.config}: attack {args.attack!r} {skip_reason(args.attack, missing, case)}"
        )
    out = check_output_folder(args.out or rc.out or "mi-run", "--out" if args.out else "out")
    spec = CellSpec(
        case=t.case,
        attack=args.attack,
        access=access.value,
        config=dict(rc.attack_config),
        budget=None if access is Access.WHITE_BOX else t.budget,
        seed=rc.seed,
        target=t.name,
        options=dict(t.options),
        k=t.k if access is Access.BLACK_BOX_TOPK else None,
        device=args.device or t.device or "auto",
        precision=args.precision or t.precision or "fp32",
        deterministic=args.deterministic,
    )
    _check_devices([spec], "--device" if args.device else f"{args.config}: target.device")
    rec = run_cell(asdict(spec), str(out))
    return _print_record(rec, out)


def _check_devices(cells: list[Any], where: str) -> None:
    """Refuse up front a device this machine does not have (cells run here); without torch
    (a tabular audit of sklearn models) only "auto" and "cpu" pass."""
    from mi_core.device import where as resolve

    for device in sorted({c.device for c in cells}):
        resolve(device, where)


def _device_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--device`` / ``--precision`` / ``--deterministic``, checked (None: not given)."""
    from mi_core.device import check_device, check_precision

    out: dict[str, Any] = {}
    if args.device is not None:
        out["device"] = check_device(args.device, "--device")
    if args.precision is not None:
        out["precision"] = check_precision(args.precision, "--precision")
    if args.deterministic:
        out["deterministic"] = True
    return out


def _print_record(rec: dict[str, Any], out: Path) -> int:
    status = rec["status"]
    print(f"{rec['id']}: {status}")
    if status != "ok":
        print(f"mi: {status}: {rec.get('message', '')}", file=sys.stderr)
        if rec.get("traceback"):
            print(f"(traceback in {out / 'cells' / rec['id'] / 'cell.json'})", file=sys.stderr)
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
    from mi_core.audit.config import check_output_folder, load_audit_config
    from mi_core.audit.plan import AuditPlan, demo_cells, plan_audit
    from mi_core.audit.runner import cell_record, run_cells

    if args.demo == bool(args.file):
        raise ConfigError("audit: give either a config FILE.toml or --demo (see mi audit --help)")
    if args.case and not args.demo:
        raise ConfigError("audit --case: only --demo takes it; a FILE.toml names its own targets")
    if args.demo:
        from mi_core.audit.plan import rough_seconds

        cells = demo_cells(
            args.seed, shards=args.shards or 1, cases=args.case or (), **_device_overrides(args)
        )
        plan = AuditPlan(
            cells=cells,
            title="Model inversion audit: built-in demo targets",
            seconds=rough_seconds(cells),
        )
        out = Path(args.out or "mi-audit-demo")
        where = "--out"
    else:
        cfg = load_audit_config(args.file)  # appends the file's folder to sys.path
        from dataclasses import replace

        if args.shards:
            cfg = replace(cfg, shards=args.shards)
        overrides = _device_overrides(args)
        if overrides:  # the command line wins over the file, for every target
            clear: dict[str, Any] = {k: None for k in ("device", "precision") if k in overrides}
            targets = tuple(replace(t, **clear) for t in cfg.targets)
            cfg = replace(cfg, targets=targets, **overrides)
        plan = plan_audit(cfg)
        out = Path(args.out or cfg.out)
        where = "--out" if args.out else f"{args.file}: audit.out"
    resume = not args.no_resume
    pending = [
        c
        for c in plan.cells
        if not resume or (cell_record(out, c) or {}).get("status") not in ("ok", "not-applicable")
    ]
    try:
        check_output_folder(out, where)
    except ConfigError:
        if pending:
            raise
        # every cell is on disk already: a rerun only re-renders the report (below)
    if args.dry_run:
        print(plan.describe())
        done = len(plan.cells) - len(pending)
        print(f"results: {out.resolve()}" + (f" ({done} cells already done)" if done else ""))
        return 0
    from mi_core.audit.executors import get_executor

    if args.executor == "local" and pending:  # a cluster's workers may have GPUs this one lacks
        _check_devices(pending, "--device" if args.device else "device")
    executor = get_executor(args.executor, address=args.address, num_cpus=args.num_cpus)
    for s in plan.skipped:
        print(f"skipped         {s.target} · {s.reason}")
    t0 = time.perf_counter()
    try:
        records = run_cells(plan.cells, out, executor=executor, resume=resume)
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot write the results to {out} ({exc.strerror or exc}); free some "
            "space or choose another folder"
        ) from None
    all_records = records + plan.skipped_records()
    report, note = _write_report(all_records, out, plan.title)
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
    if plan.skipped:
        print(f"{len(plan.skipped)} attacks skipped (listed above and in the report)")
    if report is not None:
        print(f"report: {report.resolve()}")
    if note:
        print(f"mi: note: {note}", file=sys.stderr)
    failed = [r for r in records if r["status"] == "error"]
    for r in failed:
        print(
            f"mi: cell {r['id']} failed: {r.get('message')} (traceback in "
            f"{out / 'cells' / r['id'] / 'cell.json'})",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _good_report(folder: Path) -> bool:
    """A report whose every cell ran (none failed)."""
    from mi_core.io import read_json

    try:
        cells = read_json(folder / "results.json").get("cells", [])
    except (OSError, ValueError, AttributeError):
        return False
    return bool(cells) and all(c.get("status") != "error" for c in cells)


def _write_report(
    records: list[dict[str, Any]], out: Path, title: str
) -> tuple[Path | None, str | None]:
    """Render the report. A run with failed cells never replaces a report whose cells all ran:
    its report goes to ``OUT/report-failed/``. When the folder cannot be written (read-only,
    full), the previous report is kept and a note says so."""
    import shutil

    from mi_core.report.html import render_report

    current = out / "report"
    failed = any(r.get("status") == "error" for r in records)
    try:
        if failed and _good_report(current):
            keep = out / ".report-kept"
            shutil.rmtree(keep, ignore_errors=True)
            current.rename(keep)
            try:
                render_report(records, out, title=title)
                side = out / "report-failed"
                shutil.rmtree(side, ignore_errors=True)
                current.rename(side)
            finally:
                shutil.rmtree(current, ignore_errors=True)
                keep.rename(current)
            return side / "index.html", (
                f"cells failed, so the previous report (every cell ran) is kept at "
                f"{current / 'index.html'}; this run's report is {side / 'index.html'}"
            )
        return render_report(records, out, title=title), None
    except OSError as exc:
        why = exc.strerror or str(exc)
        if (current / "index.html").exists():
            return current / "index.html", (
                f"could not write the report in {current} ({why}); the report of the previous "
                "run is kept there unchanged"
            )
        raise ConfigError(
            f"out: cannot write the report to {current} ({why}); choose another folder (--out)"
        ) from None


def _count(minimum: int) -> Any:
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


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
    p_list.add_argument(
        "--options",
        metavar="CASE",
        help="print every option of CASE with its type, default and meaning",
    )
    p_list.set_defaults(func=cmd_list)

    p_run = sub.add_parser(
        "run",
        help="run one attack against one target",
        description=RUN_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p_run.add_argument("attack", help="attack name (see `mi list attacks`)")
    p_run.add_argument("--config", help="TOML file with [target] and [attack]")
    p_run.add_argument(
        "--help-config",
        action="store_true",
        help="print every setting of ATTACK with its type, default and meaning",
    )
    p_run.add_argument("--out", help="output directory (default: the file's `out` or ./mi-run)")
    _device_arguments(p_run)
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
    p_audit.add_argument("--seed", type=_count(0), default=0, help="seed for --demo (default 0)")
    p_audit.add_argument(
        "--case",
        action="append",
        metavar="NAME",
        help="with --demo: audit only this built-in case (repeat for several; default all)",
    )
    p_audit.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (cells, skipped attacks, priors, a rough time estimate); run nothing",
    )
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
    p_audit.add_argument("--num-cpus", type=_count(1), help="CPUs of a local Ray (default: all)")
    p_audit.add_argument(
        "--shards",
        type=_count(1),
        help="split image attacks' target classes into this many tasks",
    )
    _device_arguments(p_audit)
    p_audit.set_defaults(func=cmd_audit)
    return parser


def _device_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        help="where to compute: auto (CUDA when present, else the CPU), cpu, cuda or cuda:N "
        "(overrides the file's device settings); results come back on the CPU",
    )
    p.add_argument(
        "--precision",
        help="fp32 (default), or bf16 / fp16 mixed precision of latent searches and priors "
        "(overrides the file's)",
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        help="torch's deterministic algorithms where it has them (GPU runs; slower)",
    )


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
    except OSError as exc:  # the output folder: full, read-only, gone
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mi: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
