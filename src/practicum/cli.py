"""The ``practicum`` command: list, info, run, debug, show, check, record, table and report.

Every error a user can cause ends in one line on stderr and exit status 2. What the command
prints fits a terminal of :data:`WIDTH` columns.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import io
import json
import os
import pkgutil
import shlex
import sys
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from practicum import format as fmt
from practicum.errors import Interrupted, PracticumError
from practicum.lab import COURSES, Lab, Target, all_labs, get_lab, make_config, parse_sets, topics
from practicum.run import load_summary

EXIT_FAILED_TARGET = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and still exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


WIDTH = 100  # columns of everything the command prints
# `practicum list` shortens a lab's times to these widths; `practicum info` shows them whole.
QUICK_TIME_WIDTH = 8
FULL_TIME_WIDTH = 16  # "10.3 min on H100"


# ---- text that fits ------------------------------------------------------------------
def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut at a word where one is near, marked "…"."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:(-—") + "…"


def brief_time(text: str, width: int = FULL_TIME_WIDTH) -> str:
    """A measured time without its circumstances: ``"3.1 min (1 thread)"`` -> ``"3.1 min"``
    (`practicum info` shows them)."""
    head = text.split("(", 1)[0].split(";", 1)[0].strip()
    return shorten(head or text, width)


def wrap(text: str, indent: str = "", hang: str | None = None) -> list[str]:
    """``text`` wrapped at :data:`WIDTH`; the first line starts with ``indent``, the rest
    with ``hang`` (default: ``indent``). Long words are broken rather than overflow."""
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=indent,
        subsequent_indent=indent if hang is None else hang,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


# ---- choosing labs -------------------------------------------------------------------
def select_labs(topic: str | None = None, course: str | None = None) -> list[Lab]:
    """The labs of a topic and/or course, in display order; PracticumError for unknown names."""
    if topic is not None and topic not in topics():
        raise PracticumError(f"unknown topic {topic!r}; topics: {', '.join(topics())}")
    if course is not None and course not in COURSES:
        raise PracticumError(f"unknown course {course!r}; courses: {', '.join(COURSES)}")
    labs = [
        lab
        for lab in all_labs().values()
        if (topic is None or lab.topic == topic) and (course is None or course in lab.courses)
    ]
    if not labs:
        which = " and ".join(
            x for x in (topic and f"topic {topic}", course and f"course {course}") if x
        )
        raise PracticumError(f"no lab is in {which} (see `practicum list`)")
    return labs


# ---- commands ------------------------------------------------------------------------
def lab_listing(labs: Iterable[Lab]) -> list[str]:
    """The lines of `practicum list`: a header, then per topic a heading and one line per lab."""
    labs = list(labs)
    header = ["lab", "what it shows", "quick", "full"]
    name_w = max(len(header[0]), *(len(lab.name) for lab in labs))
    quick_w = max(
        len(header[2]), *(len(brief_time(lab.time_quick, QUICK_TIME_WIDTH)) for lab in labs)
    )
    from practicum.records import full_time  # the record's time, else the lab's estimate

    full = {lab.name: brief_time(full_time(lab)) for lab in labs}
    full_w = max(len(header[3]), *(len(full[lab.name]) for lab in labs))
    # Four columns, two spaces apart, the line indented by two.
    summary_w = WIDTH - 2 - name_w - quick_w - full_w - 3 * 2
    rows = [
        [
            lab.name,
            shorten(lab.summary or lab.title, summary_w),
            brief_time(lab.time_quick, QUICK_TIME_WIDTH),
            full[lab.name],
        ]
        for lab in labs
    ]
    table = fmt.text_table(rows, header).splitlines()
    titles = topics()
    lines = ["  " + line for line in table[:2]]
    previous = None
    for lab, line in zip(labs, table[2:], strict=True):
        if lab.topic != previous:
            lines += ["", shorten(f"{lab.topic} — {titles.get(lab.topic, lab.topic)}", WIDTH)]
            previous = lab.topic
        lines.append("  " + line)
    return lines


def cmd_list(args: argparse.Namespace) -> int:
    labs = select_labs(args.topic, args.course)
    print("\n".join(lab_listing(labs)))
    print(f"\n{len(labs)} labs; `practicum info LAB` for a lab's targets, config and record")
    return 0


# ---- practicum info ------------------------------------------------------------------
def _class_comments(cls: type) -> dict[str, str]:
    """Field -> comment in one class body: the comment beside the field, else the comment
    block right above it (no blank line between)."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (built in a REPL, say): no comments
        return {}
    comments: dict[int, tuple[str, bool]] = {}  # line -> (text, beside code?)
    code_lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            beside = tok.start[0] in code_lines
            comments[tok.start[0]] = (tok.string.lstrip("#").strip(), beside)
        elif tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.update(range(tok.start[0], tok.end[0] + 1))
    body = ast.parse(source).body[0]
    out = {}
    for node in getattr(body, "body", []):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
        beside = [comments[n][0] for n in lines if n in comments and comments[n][1]]
        if not beside:
            n = node.lineno - 1
            while n in comments and not comments[n][1]:
                beside.insert(0, comments[n][0])
                n -= 1
        if beside:
            out[node.target.id] = " ".join(beside)
    return out


def config_comments(config: type) -> dict[str, str]:
    """Field -> the comment written beside it in the config class, or in the nearest base
    class that has one (a subclass that only changes a default inherits the explanation)."""
    out: dict[str, str] = {}
    for cls in reversed(config.__mro__):
        if dataclasses.is_dataclass(cls):
            out.update(_class_comments(cls))
    return out


def type_name(typ: Any) -> str:
    """A config field's type as a reader writes it: ``int``, ``tuple[int, ...]``, ``'a' | 'b'``."""
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if typ is type(None):
        return "None"
    return getattr(typ, "__name__", str(typ).removeprefix("typing."))


def lab_file(lab: Lab) -> Path | None:
    """The file that defines the lab's ``LAB``."""
    package = importlib.import_module(f"practicum.labs.{lab.topic}")
    for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        found = getattr(module, "LAB", None)
        if isinstance(found, Lab) and found.name == lab.name and module.__file__:
            return Path(module.__file__)
    return None


def _relative(path: Path) -> str:
    from practicum.records import project_root

    root = project_root()
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _field(label: str, text: str) -> list[str]:
    """``label:   text``, the text wrapped in a column of its own (no label: continued)."""
    return wrap(text, f"{label + ':' if label else '':<9} ", " " * 10)


def _target_lines(targets: Sequence[Target]) -> list[str]:
    width = max(len(t.describe()) for t in targets)
    return [
        line
        for t in targets
        for line in wrap(f"{t.describe():<{width}}  from {t.source}", "  ", " " * (width + 4))
    ]


def _config_lines(lab: Lab) -> list[str]:
    # What the lab would run with, shown even where this machine could not run it.
    full = make_config(lab, check_memory=False)
    quick = make_config(lab, quick=True, check_memory=False)
    hints = typing.get_type_hints(lab.config)
    comments = config_comments(lab.config)
    lines = []
    for f in dataclasses.fields(lab.config):
        default, fast = getattr(full, f.name), getattr(quick, f.name)
        head = f"{f.name}: {type_name(hints[f.name])} = {default!r}"
        if fast != default:
            head += f"   (--quick: {fast!r})"
        lines += wrap(head, "  ", " " * 6)
        if f.name in comments:
            lines += wrap(comments[f.name], " " * 6)
    return lines


def _record_lines(lab: Lab) -> list[str]:
    from practicum.records import is_clean, load_seeds, results_dir

    path = results_dir() / f"{lab.name}.json"
    if not path.is_file():
        return ["run of record: none yet (`practicum record RUN_DIR` after a full run)"]
    summary = json.loads(path.read_text())
    env_path = results_dir() / lab.name / "env.json"
    env = json.loads(env_path.read_text()) if env_path.is_file() else {}
    mode = ", --quick" if summary.get("quick") else ""
    about = (
        f"seed {summary.get('seed')}{mode}, commit {fmt.short_commit(env)}, "
        f"CPU {env.get('cpu', '–')}, {fmt.duration(summary.get('wall_time_s'))}"
        f"{fmt.accelerator(env)}"
    )
    lines = wrap(f"run of record: {about}")
    judged = summary.get("targets", [])
    width = max((len(fmt.target(t)) for t in judged), default=0)
    for t in judged:
        verdict = "pass" if t.get("passed") else "FAIL"
        lines += wrap(
            f"{fmt.target(t):<{width}}  achieved {fmt.number(t.get('achieved'))}  {verdict}", "  "
        )
    if not is_clean(env):
        lines += wrap(
            "not made from a commit (uncommitted changes, or outside git): rerun it from a commit "
            "to make it rerunnable",
            "  ",
        )
    seeds = load_seeds(lab.name)
    if seeds:
        runs = seeds.get("runs", [])
        lines += wrap(f"seeds: {', '.join(str(r.get('seed')) for r in runs)}", "  ")
        for metric, st in seeds.get("stats", {}).items():
            lines += wrap(
                f"{metric}: mean {fmt.number(st['mean'])} ± {fmt.number(st['std'])} (sd), "
                f"min {fmt.number(st['min'])}, max {fmt.number(st['max'])}, n = {st['n']}",
                "  ",
                "    ",
            )
    return lines


def lab_info(lab: Lab) -> list[str]:
    """The lines of `practicum info LAB`."""
    from practicum.records import project_root

    lines = wrap(f"{lab.name} — {lab.title}")
    lines += _field("topic", f"{lab.topic} — {topics().get(lab.topic, lab.topic)}")
    for i, course in enumerate(lab.courses or ("–",)):
        lines += _field("courses" if i == 0 else "", f"{course}: {COURSES.get(course, '')}")
    lines += _field("source", lab.source)
    if lab.summary:
        lines += _field("shows", lab.summary)
    file = lab_file(lab)
    if file is not None:
        lines += _field("file", _relative(file))
    doc = project_root() / "docs" / "labs" / f"{lab.name}.md"
    if doc.is_file():
        lines += _field("notes", _relative(doc))
    from practicum.records import full_time

    lines += _field("time", f"quick {lab.time_quick}; full {full_time(lab)}")
    lines += ["", "targets (full run):", *_target_lines(lab.targets)]
    if lab.quick_targets is None:
        lines += ["targets (--quick): the same"]
    else:
        lines += ["targets (--quick):", *_target_lines(lab.quick_targets)]
    lines += [
        "",
        "config (defaults: the full run; --quick values where they differ; --set KEY=VALUE):",
    ]
    lines += _config_lines(lab)
    lines += ["", *_record_lines(lab)]
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    print("\n".join(lab_info(get_lab(args.lab))))
    return 0


def _result_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for t in summary["targets"]:
        rows.append(
            [
                summary["lab"],
                t["metric"],
                f"{t['op']} {t['value']:g}",
                fmt.number(t["achieved"]),
                "pass" if t["passed"] else "FAIL",
                fmt.duration(summary.get("wall_time_s")),
            ]
        )
    return rows


RESULT_HEADER = ["lab", "metric", "target", "achieved", "pass", "time"]


def check_seed(seed: int) -> None:
    """Seeds are what NumPy accepts: 0 <= seed < 2**32."""
    if seed < 0 or seed >= 2**32:
        raise PracticumError(f"--seed must be in [0, 2**32), got {seed}")


def resume_command(run_dir: str | Path, args: argparse.Namespace) -> str:
    """The `practicum run --resume` line that continues ``run_dir``, with the --device and
    --threads the user gave (the folder's env.json supplies them otherwise)."""
    words = ["practicum", "run", "--resume", str(run_dir)]
    if args.device_given is not None:
        words += ["--device", args.device_given]
    if args.threads is not None:
        words += ["--threads", str(args.threads)]
    return shlex.join(words)


def _interrupted(exc: Interrupted, args: argparse.Namespace) -> Interrupted:
    """Ctrl-C in a run, worded for the command line: the folder and how to continue it."""
    return Interrupted(
        exc.run_dir,
        f"the run in {exc.run_dir} is unfinished; continue it with "
        f"`{resume_command(exc.run_dir, args)}`",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from practicum.launch import run_lab

    check_seed(args.seed)
    overrides = parse_sets(args.set or [])
    # Under torchrun every process runs this command; rank 0 alone talks (and writes the
    # run folder), so the results table appears once.
    worker = int(os.environ.get("RANK", "0")) > 0
    args.quiet = args.quiet or worker
    say = (lambda *_, **__: None) if worker else print
    if args.resume is not None:
        if args.lab or args.all or overrides or args.out is not None or args.topic or args.course:
            raise PracticumError("--resume takes the lab, config and folder from RUN_DIR alone")
        if not args.resume.strip():
            raise PracticumError("--resume is empty; name the run folder to continue")
        from practicum.launch import resume_lab

        try:
            summary, run_dir = resume_lab(
                args.resume, device=args.device_given, quiet=args.quiet, threads=args.threads
            )
        except Interrupted as exc:
            raise _interrupted(exc, args) from None
        say(fmt.text_table(_result_rows(summary), RESULT_HEADER))
        say(f"run folder: {run_dir}")
        return 0 if summary["passed"] else EXIT_FAILED_TARGET
    if args.device_given is not None:
        args.device = args.device_given
    if args.all:
        if args.lab:
            raise PracticumError("give either a lab name or --all, not both")
        if overrides:
            raise PracticumError("--set applies to one lab; it cannot be used with --all")
        labs = select_labs(args.topic, args.course)
    elif args.topic or args.course:
        raise PracticumError("--topic and --course choose the labs of --all; add --all")
    elif args.lab:
        labs = [get_lab(args.lab)]
    else:
        raise PracticumError("name a lab to run, or --all (see `practicum list`)")

    # Check every config, run folder, the device and the threads before anything runs or is
    # written, so bad input costs nothing.
    from practicum.launch import check_out, resolve_device, resolve_threads

    if args.out is not None and not args.out.strip():
        check_out(args.out, labs[0].name)  # the one-line error for an empty --out

    def out_dir(lab_name: str) -> Path | None:
        if args.out is None:
            return None
        return Path(args.out) / lab_name if args.all else Path(args.out)

    for lab in labs:
        make_config(lab, quick=args.quick, overrides=overrides)
        check_out(out_dir(lab.name), lab.name)
    resolve_device(args.device)
    resolve_threads(args.threads)

    rows: list[list[str]] = []
    failed = []
    for finished, lab in enumerate(labs):
        out = out_dir(lab.name)
        if not args.quiet:
            mode = "quick" if args.quick else "full"
            print(f"== {lab.name} ({mode}, seed {args.seed}): {lab.title}", file=sys.stderr)
        try:
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
        except Interrupted as exc:
            if args.all and rows:  # what finished is not lost
                say(fmt.text_table(rows, RESULT_HEADER))
                say(f"{finished} of {len(labs)} labs finished before the interrupt")
            raise _interrupted(exc, args) from None
        rows += _result_rows(summary)
        if not summary["passed"]:
            failed.append(lab.name)
        if not args.all:
            say(fmt.text_table(_result_rows(summary), RESULT_HEADER))
            say(f"run folder: {run_dir}")
    if args.all:
        say(fmt.text_table(rows, RESULT_HEADER))
        say(f"{len(labs) - len(failed)} of {len(labs)} labs passed their targets")
    if failed:
        say(f"practicum: targets missed: {', '.join(failed)}", file=sys.stderr)
        return EXIT_FAILED_TARGET
    return 0


def verdict(summary: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The targets judged again from the saved metrics, and the one-line verdict that
    `practicum show` and `practicum check` both print."""
    judged = recheck(summary)
    if not summary["metrics"]:
        return judged, "targets missed: the summary holds no metrics"
    missing = [t["metric"] for t in judged if t["achieved"] is None]
    if missing:
        return judged, f"targets missed: no value for {', '.join(missing)} in the metrics"
    if all(t["passed"] for t in judged):
        return judged, "all targets met"
    return judged, "targets missed"


def cmd_show(args: argparse.Namespace) -> int:
    summary = load_summary(args.run_dir)
    judged, line = verdict(summary)
    mode = "quick" if summary.get("quick") else "full"
    print(f"lab {summary['lab']} ({mode}, seed {summary.get('seed')})")
    print(f"run folder: {args.run_dir}")
    for key, value in summary["metrics"].items():
        print(f"  {key:<28} {fmt.number(value)}")
    print(fmt.text_table(_result_rows({**summary, "targets": judged}), RESULT_HEADER))
    print(f"{line}   param_hash: {summary.get('param_hash')}")
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
        try:
            targets = [
                Target(t["metric"], t["op"], float(t["value"]), t.get("source", ""))
                for t in summary["targets"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise PracticumError(
                f"the summary of {summary['lab']} has a bad target: {exc}"
            ) from None
    return [t.judge(summary["metrics"]) for t in targets]


def cmd_check(args: argparse.Namespace) -> int:
    summary = load_summary(args.run_dir)
    judged, line = verdict(summary)
    print(fmt.text_table(_result_rows({**summary, "targets": judged}), RESULT_HEADER))
    print(line)
    return 0 if line == "all targets met" else EXIT_FAILED_TARGET


def cmd_record(args: argparse.Namespace) -> int:
    from practicum import readme, records, report

    done = records.record(args.run_dirs, allow_quick=args.allow_quick)
    readme.write_readme_table()
    report.write_records_markdown()
    root = records.project_root()
    where = records.results_dir()
    where = where.relative_to(root) if where.is_relative_to(root) else where
    seeds = f" and {done.seeds} seeds ({where}/{done.lab}/seeds.json)" if done.seeds > 1 else ""
    print(
        f"recorded {done.lab}: {where}/{done.lab}.json, {done.plots} plots{seeds}; "
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

    check_seed(args.seed)
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
    sanity = json.loads((Path(run_dir) / "debug.json").read_text())["sanity"]
    return 1 if any(not c["passed"] for c in sanity) else 0  # a failed sanity check: 1


def _add_filters(p: argparse.ArgumentParser, only: str) -> None:
    """``--topic`` and ``--course``: which labs ``list`` shows and ``run --all`` runs."""
    p.add_argument("--topic", help=f"{only} the labs of this topic folder (e.g. vision)")
    p.add_argument("--course", help=f"{only} the labs of this course ({', '.join(COURSES)})")


class _Version(argparse.Action):
    """``--version``: the package version, and the commit in a git checkout (looked up only
    when asked: it runs git)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **_: Any):
        super().__init__(option_strings, dest, nargs=0, help="the version (and git commit)")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        print(version_text())
        parser.exit(0)


def version_text() -> str:
    """``practicum 0.1.0`` and, in a git checkout, ``(commit 0123456789)`` (``+dirty`` when
    tracked files have uncommitted changes)."""
    from importlib.metadata import PackageNotFoundError, version

    from practicum.repro import git_commit

    try:
        text = f"practicum {version('practicum')}"
    except PackageNotFoundError:  # run from a source tree that is not installed
        text = "practicum (not installed)"
    commit = git_commit()
    return text + (f" (commit {fmt.short_commit({'git_commit': commit})})" if commit else "")


RUN_DIR_HELP = "a run folder (runs/<lab>/<time>-s<seed>, or the --out of `practicum run`)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="practicum",
        description="Deep-learning practice as tested, reproducible experiments.",
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("list", help="the labs by topic: what each shows, quick and full times")
    _add_filters(p, "only")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("info", help="one lab: targets and their sources, config, times, record")
    p.add_argument("lab", help="lab name (see `practicum list`)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("run", help="run a lab (or --all) and check its targets")
    p.add_argument("lab", nargs="?", help="lab name (see `practicum list`)")
    p.add_argument("--all", action="store_true", help="run every lab, then print a results table")
    _add_filters(p, "with --all, only")
    p.add_argument("--quick", action="store_true", help="small embedded data, seconds per lab")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="a new or empty run folder (default: a fresh runs/<lab>/<UTC time>-s<seed>; "
        "with --all: DIR/<lab>)",
    )
    p.add_argument(
        "--device", dest="device_given", metavar="DEVICE", help="cpu or cuda (default cpu)"
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue an interrupted run in its folder (from its newest usable checkpoint)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars or chatter")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="intra-op threads (default $PRACTICUM_THREADS or 1)",
    )
    p.set_defaults(func=cmd_run, device="cpu")

    p = sub.add_parser(
        "debug",
        help="a few training steps of a lab with gradient-flow hooks, and the lab's sanity "
        "checks (exit 1 if one fails)",
    )
    p.add_argument("lab", help="lab name (see `practicum list`); labs that step a torch optimiser")
    p.add_argument("--quick", action="store_true", help="the lab's quick preset")
    p.add_argument("--steps", type=int, default=20, help="optimiser steps to watch (default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)"
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="a new or empty folder (default: a fresh runs/<lab>-debug/<UTC time>-s<seed>)",
    )
    p.set_defaults(func=cmd_debug)

    p = sub.add_parser("show", help="print the summary of a run folder")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("check", help="re-judge a run's targets from its saved metrics")
    p.add_argument("run_dir", metavar="RUN_DIR", help=RUN_DIR_HELP)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "record",
        help="make a full run the result of record (docs/results/); further runs: other seeds",
    )
    p.add_argument(
        "run_dirs",
        nargs="+",
        metavar="RUN_DIR",
        help="the run of record, then other seeds of its lab and config",
    )
    p.add_argument(
        "--allow-quick",
        action="store_true",
        help="accept --quick runs too (for trying the workflow; records are full runs)",
    )
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
    p.add_argument(
        "--out",
        default="report",
        metavar="DIR",
        help="site folder: new, empty or an earlier site (default report/)",
    )
    p.add_argument(
        "--runs-root", default="runs", metavar="DIR", help="where to look for runs (default runs/)"
    )
    p.add_argument(
        "--docs-md",
        metavar="FILE",
        help="also write the Markdown tables here (--records: docs/reproducibility.md)",
    )
    p.add_argument("--no-docs", action="store_true", help="write no Markdown tables")
    p.add_argument(
        "--records",
        action="store_true",
        help="the runs of record in docs/results/, not runs/; rewrites docs/reproducibility.md",
    )
    p.set_defaults(func=cmd_report)

    from practicum.grade.cli import add_grade_parser  # the autograder's own subcommands

    add_grade_parser(sub)
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
    except KeyboardInterrupt as exc:
        detail = f": {exc.message}" if isinstance(exc, Interrupted) else ""
        print(f"practicum: interrupted{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `practicum list | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
