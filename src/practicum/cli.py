"""The ``practicum`` command: list, run, show, check, record and table.

Every error a user can cause ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from practicum.errors import PracticumError
from practicum.lab import Target, all_labs, get_lab, parse_sets
from practicum.run import load_summary

EXIT_FAILED_TARGET = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


# ---- commands ------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    rows = []
    for lab in all_labs().values():
        targets = "; ".join(t.describe() for t in lab.targets)
        rows.append([lab.name, lab.source, targets, lab.time_quick, lab.time_full])
    print(_table(rows, ["lab", "source", "targets (full)", "quick", "full"]))
    return 0


def _result_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in summary["targets"]:
        rows.append(
            [
                summary["lab"],
                t["metric"],
                f"{t['op']} {t['value']:g}",
                _fmt(t["achieved"]),
                "pass" if t["passed"] else "FAIL",
                f"{summary['wall_time_s']:.1f} s",
            ]
        )
    return rows


RESULT_HEADER = ["lab", "metric", "target", "achieved", "pass", "time"]


def cmd_run(args: argparse.Namespace) -> int:
    from practicum.launch import run_lab

    if args.seed < 0 or args.seed >= 2**32:
        raise PracticumError(f"--seed must be in [0, 2**32), got {args.seed}")
    overrides = parse_sets(args.set or [])
    # Under torchrun every process runs this command; rank 0 alone talks (and writes the
    # run folder), so the results table appears once.
    worker = int(os.environ.get("RANK", "0")) > 0
    args.quiet = args.quiet or worker
    say = (lambda *_, **__: None) if worker else print
    if args.resume:
        if args.lab or args.all or overrides or args.out:
            raise PracticumError("--resume takes the lab, config and folder from RUN_DIR alone")
        from practicum.launch import resume_lab

        summary, run_dir = resume_lab(
            args.resume, device=args.device_given, quiet=args.quiet, threads=args.threads
        )
        say(_table(_result_rows(summary), RESULT_HEADER))
        say(f"run folder: {run_dir}")
        return 0 if summary["passed"] else EXIT_FAILED_TARGET
    if args.device_given is not None:
        args.device = args.device_given
    if args.all:
        if args.lab:
            raise PracticumError("give either a lab name or --all, not both")
        if overrides:
            raise PracticumError("--set applies to one lab; it cannot be used with --all")
        labs = list(all_labs().values())
    elif args.lab:
        labs = [get_lab(args.lab)]
    else:
        raise PracticumError("name a lab to run, or --all (see `practicum list`)")

    # Check every config and the device before anything runs, so bad input costs nothing.
    from practicum.lab import make_config
    from practicum.launch import check_out, resolve_device, resolve_threads

    def out_dir(lab_name: str) -> Path | None:
        if args.out is None:
            return None
        return Path(args.out) / lab_name if args.all else Path(args.out)

    for lab in labs:
        make_config(lab, quick=args.quick, overrides=overrides)
        check_out(out_dir(lab.name))
    resolve_device(args.device)
    resolve_threads(args.threads)

    rows: list[list[str]] = []
    failed = []
    for lab in labs:
        out = out_dir(lab.name)
        if not args.quiet:
            mode = "quick" if args.quick else "full"
            print(f"== {lab.name} ({mode}, seed {args.seed}): {lab.title}", file=sys.stderr)
        summary, run_dir = run_lab(
            lab,
            quick=args.quick,
            seed=args.seed,
            overrides=overrides,
            out=out,
            device=args.device,
            quiet=args.quiet,
            threads=args.threads,
        )
        rows += _result_rows(summary)
        if not summary["passed"]:
            failed.append(lab.name)
        if not args.all:
            say(_table(_result_rows(summary), RESULT_HEADER))
            say(f"run folder: {run_dir}")
    if args.all:
        say(_table(rows, RESULT_HEADER))
        say(f"{len(labs) - len(failed)} of {len(labs)} labs passed their targets")
    if failed:
        say(f"practicum: targets missed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_TARGET
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    summary = load_summary(args.run_dir)
    mode = "quick" if summary.get("quick") else "full"
    print(f"lab {summary['lab']} ({mode}, seed {summary.get('seed')})")
    print(f"run folder: {args.run_dir}")
    for key, value in summary["metrics"].items():
        print(f"  {key:<28} {_fmt(value)}")
    print(_table(_result_rows(summary), RESULT_HEADER))
    print(f"passed: {summary.get('passed')}   param_hash: {summary.get('param_hash')}")
    plots = sorted((Path(args.run_dir) / "plots").glob("*.png"))
    if plots:
        print("plots: " + ", ".join(p.name for p in plots))
    return 0


def recheck(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Judge a saved run again: the lab's current targets if it is registered, else the saved ones."""
    labs = all_labs()
    if summary["lab"] in labs:
        targets = labs[summary["lab"]].targets_for(bool(summary.get("quick")))
    else:
        targets = [
            Target(t["metric"], t["op"], float(t["value"]), t.get("source", ""))
            for t in summary["targets"]
        ]
    return [t.judge(summary["metrics"]) for t in targets]


def cmd_check(args: argparse.Namespace) -> int:
    summary = load_summary(args.run_dir)
    judged = recheck(summary)
    print(_table(_result_rows({**summary, "targets": judged}), RESULT_HEADER))
    ok = all(t["passed"] for t in judged)
    print("all targets met" if ok else "targets missed")
    return 0 if ok else EXIT_FAILED_TARGET


def cmd_record(args: argparse.Namespace) -> int:
    from practicum.io import atomic_write_bytes
    from practicum.readme import results_dir, write_readme_table
    from practicum.report import write_records_markdown

    run_dir = Path(args.run_dir)
    summary = load_summary(run_dir)
    if summary.get("quick") and not args.allow_quick:
        raise PracticumError(
            f"{run_dir} is a --quick run; results of record are full runs (--allow-quick to override)"
        )
    dest = results_dir()
    lab = summary["lab"]
    atomic_write_bytes(dest / f"{lab}.json", (run_dir / "summary.json").read_bytes())
    plot_dest = dest / lab
    # Old plots go (a plot the lab no longer draws must not linger); other files the
    # folder holds (notes, extra summaries committed beside the record) stay.
    for stale in plot_dest.glob("*.png"):
        stale.unlink()
    plots = sorted((run_dir / "plots").glob("*.png"))
    for plot in plots:
        atomic_write_bytes(plot_dest / plot.name, plot.read_bytes())
    for extra in ("config.json", "env.json"):
        if (run_dir / extra).is_file():
            atomic_write_bytes(plot_dest / extra, (run_dir / extra).read_bytes())
    write_readme_table()
    write_records_markdown()
    print(
        f"recorded {lab}: docs/results/{lab}.json and {len(plots)} plots; "
        "README table and docs/reproducibility.md updated"
    )
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    from practicum.readme import lab_table, write_readme_table

    if args.write:
        from practicum.report import write_records_markdown

        write_readme_table()
        write_records_markdown()
    else:
        print(lab_table())
    return 0


def cmd_debug(args: argparse.Namespace) -> int:
    from practicum.debug import debug_lab

    rows, run_dir = debug_lab(
        args.lab,
        quick=args.quick,
        seed=args.seed,
        steps=args.steps,
        overrides=parse_sets(args.set or []),
        out=args.out,
    )
    print((Path(run_dir) / "debug.md").read_text())
    print(f"table, plots and debug.json in: {run_dir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="practicum",
        description="Deep-learning practice as tested, reproducible experiments.",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("list", help="the registered labs and their targets")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run a lab (or --all) and check its targets")
    p.add_argument("lab", nargs="?", help="lab name (see `practicum list`)")
    p.add_argument("--all", action="store_true", help="run every lab, then print a results table")
    p.add_argument("--quick", action="store_true", help="small embedded data, seconds per lab")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)"
    )
    p.add_argument("--out", help="run folder (default runs/<lab>/<UTC time>-s<seed>)")
    p.add_argument("--device", dest="device_given", help="cpu or cuda (default cpu)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    p.add_argument("--threads", type=int, help="intra-op threads (default $PRACTICUM_THREADS or 1)")
    p.set_defaults(func=cmd_run, device="cpu")

    p = sub.add_parser("debug", help="a few training steps of a lab with gradient-flow hooks")
    p.add_argument("lab")
    p.add_argument("--quick", action="store_true", help="the lab's quick preset")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps to watch (default 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", metavar="KEY=VALUE")
    p.add_argument("--out", help="run folder (default runs/<lab>-debug/<UTC time>-s<seed>)")
    p.set_defaults(func=cmd_debug)

    p = sub.add_parser("show", help="print the summary of a run folder")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("check", help="re-judge a run's targets from its saved metrics")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("record", help="make a full run a result of record (docs/results/)")
    p.add_argument("run_dir")
    p.add_argument("--allow-quick", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_record)

    p = sub.add_parser(
        "table",
        help="print the README lab table from docs/results/ (--write: README and docs/reproducibility.md)",
    )
    p.add_argument("--write", action="store_true", help="rewrite the table in README.md")
    p.set_defaults(func=cmd_table)

    from practicum.report import cmd_report

    p = sub.add_parser("report", help="build the reproducibility report (report/index.html)")
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="default: newest run per lab")
    p.add_argument("--out", default="report", help="site folder (default report/)")
    p.add_argument("--runs-root", default="runs", help="where to look for runs (default runs/)")
    p.add_argument("--docs-md", help="Markdown table path (default docs/reproducibility.md)")
    p.add_argument("--no-docs", action="store_true", help="do not write the Markdown table")
    p.add_argument(
        "--records", action="store_true", help="the runs of record in docs/results/, not runs/"
    )
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except PracticumError as exc:
        print(f"practicum: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("practicum: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `practicum list | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
