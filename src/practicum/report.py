"""The reproducibility report: a static web site of the newest run of every lab.

``practicum report`` reads finished run folders (those with a ``summary.json``), or with
``--records`` the runs of record committed in ``docs/results/``, and writes

* ``report/index.html`` -- every registered lab, grouped by topic: source, targets, achieved
  values, pass/fail, seed, quick/full, wall time, CPU and device, and git commit;
* ``report/<lab>.html`` -- that run's config, metrics, targets, plots, environment and (for a
  record made over several seeds) each seed's result and their spread, the command that
  reproduces it, and the lab's notes (``docs/labs/<lab>.md``); a lab without a run gets a page
  with its targets and notes;
* ``report/<lab>/*.png`` -- copies of the plots, so the folder is self-contained and opens from
  disk without a server;
* ``docs/reproducibility.md`` -- the same tables in Markdown, for the repository.

A record whose ``env.json`` names a ``+dirty`` commit is marked as made from uncommitted code,
not yet rerun from a clean commit: the code that produced it is not in the repository.

Every page is rendered from the Jinja2 templates in ``practicum/templates/`` with autoescaping,
so text from a run folder can never become markup; the one piece of HTML that is not escaped is
the lab notes, which Python-Markdown renders from the repository's own ``docs/labs/``. The
pages are plain HTML with inline CSS: no JavaScript, no fonts or styles from the network.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practicum import format as fmt
from practicum.errors import PracticumError
from practicum.io import atomic_write_bytes, atomic_write_text, read_json
from practicum.lab import COURSES, Lab, all_labs, make_config, topics
from practicum.records import load_seeds, project_root, results_dir
from practicum.run import load_summary

if TYPE_CHECKING:
    import jinja2

DIRTY_NOTE = "made from uncommitted code: not yet rerun from a clean commit"


@dataclass
class RunRecord:
    """Everything the report shows about one finished run folder (or one run of record)."""

    dir: Path
    summary: dict[str, Any]
    config: dict[str, Any] | None  # config.json, if the run wrote one
    env: dict[str, Any] | None  # env.json, if the run wrote one
    plots: list[Path]
    of_record: bool = False  # read from docs/results/ by --records
    seeds: dict[str, Any] | None = None  # the record's seeds.json, when it has one

    @property
    def lab(self) -> str:
        return str(self.summary["lab"])

    @property
    def dirty(self) -> bool:
        """A run of record made from uncommitted changes (its commit ends in ``+dirty``)."""
        commit = (self.env or {}).get("git_commit")
        return self.of_record and str(commit or "").endswith("+dirty")


# ---- finding and reading runs ----------------------------------------------------------
def _optional_json(path: Path) -> dict[str, Any] | None:
    """A side file of a run folder; a missing or unreadable one is shown as 'not recorded'."""
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def load_run(run_dir: str | Path) -> RunRecord:
    """A finished run folder: its summary (required), config, environment and plots."""
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)  # one-line PracticumError if it is missing or bad
    return RunRecord(
        dir=run_dir,
        summary=summary,
        config=_optional_json(run_dir / "config.json"),
        env=_optional_json(run_dir / "env.json"),
        plots=sorted((run_dir / "plots").glob("*.png")),
    )


def _seeds(lab: str, results: Path) -> dict[str, Any] | None:
    try:
        return load_seeds(lab, results)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PracticumError(f"{results / lab / 'seeds.json'} is not valid JSON: {exc}") from None


def load_records(results: str | Path) -> list[RunRecord]:
    """The runs of record: ``<lab>.json`` (a run's summary) with its config, env and plots in
    ``<lab>/`` (and ``seeds.json`` when several seeds were recorded), as ``practicum record``
    lays them out in docs/results/."""
    results = Path(results)
    records = []
    for path in sorted(results.glob("*.json")):
        folder = results / path.stem
        records.append(
            RunRecord(
                dir=folder,
                summary=load_summary(path.parent, path.name),
                config=_optional_json(folder / "config.json"),
                env=_optional_json(folder / "env.json"),
                plots=sorted(folder.glob("*.png")),
                of_record=True,
                seeds=_seeds(path.stem, results),
            )
        )
    if not records:
        raise PracticumError(f"no results of record in {results}/ (see `practicum record`)")
    return records


def find_runs(runs_root: str | Path) -> list[Path]:
    """The newest finished run of every lab under ``runs_root``.

    Looks in ``runs_root/<lab>/*/`` (the runner's default folders) and ``runs_root/*/`` (folders
    named with ``--out runs/NAME``). A run belongs to the lab its summary names. Newest means the
    latest ``summary.json`` modification time, then the folder name (a UTC time stamp).
    """
    root = Path(runs_root)
    candidates = [*root.glob("*/summary.json"), *root.glob("*/*/summary.json")]
    newest: dict[str, tuple[float, str, Path]] = {}
    for path in candidates:
        lab = load_summary(path.parent)["lab"]
        key = (path.stat().st_mtime, path.parent.name, path.parent)
        if lab not in newest or key[:2] > newest[lab][:2]:
            newest[lab] = key
    return [newest[lab][2] for lab in sorted(newest)]


def collect_runs(run_dirs: Sequence[str | Path], runs_root: str | Path) -> list[RunRecord]:
    """The named run folders, or else the newest run of every lab under ``runs_root``."""
    if run_dirs:
        records = [load_run(d) for d in run_dirs]
    else:
        found = find_runs(runs_root)
        if not found:
            raise PracticumError(
                f"no finished runs under {runs_root}/ (run `practicum run LAB` first, "
                "or name run folders)"
            )
        records = [load_run(d) for d in found]
    seen: dict[str, Path] = {}
    for rec in records:
        if rec.lab in seen:
            # One page per lab; two runs of one lab would overwrite each other.
            raise PracticumError(
                f"two runs of {rec.lab} given ({seen[rec.lab]} and {rec.dir}); "
                "the report shows one run per lab"
            )
        seen[rec.lab] = rec.dir
    return records


# ---- what a row and a page show ---------------------------------------------------------
def _achieved_text(t: Mapping[str, Any]) -> str:
    return f"{fmt.number(t.get('achieved'))} ({'pass' if t.get('passed') else 'FAIL'})"


def _spread_lines(rec: RunRecord) -> list[str]:
    """``metric: mean ± std over n seeds`` for each metric of a record's seeds.json."""
    stats = (rec.seeds or {}).get("stats", {})
    return [f"{metric}: {fmt.seed_spread(s)}" for metric, s in stats.items()]


@dataclass
class Row:
    """One lab in the index and docs/reproducibility.md, as text (the templates mark it up)."""

    name: str
    page: str
    source: str
    targets: list[str]
    run: bool  # False: a registered lab with no run
    achieved: list[str] = field(default_factory=list)
    spread: list[str] = field(default_factory=list)  # statistics over seeds, if recorded
    seeds: int = 1  # seeds recorded (seeds.json)
    passed: bool = False
    seed: str = "–"
    mode: str = "–"
    wall_time: str = "–"
    cpu: str = "–"
    device: str = "–"
    commit: str = "–"
    dirty: bool = False


def _row(name: str, lab: Lab | None, rec: RunRecord | None) -> Row:
    source = lab.source if lab else "(not registered)"
    if rec is None:
        targets = [t.describe() for t in lab.targets] if lab else []
        return Row(name=name, page=page_name(name), source=source, targets=targets, run=False)
    s = rec.summary
    return Row(
        name=name,
        page=page_name(name),
        source=source,
        targets=[fmt.target(t) for t in s["targets"]],
        run=True,
        achieved=[_achieved_text(t) for t in s["targets"]],
        spread=_spread_lines(rec),
        seeds=len((rec.seeds or {}).get("runs", [])) or 1,
        passed=bool(s.get("passed")),
        seed=fmt.number(s.get("seed")),
        mode="quick" if s.get("quick") else "full",
        wall_time=fmt.duration(s.get("wall_time_s")),
        cpu=fmt.cpu_model(rec.env),
        device=fmt.device_text(rec.env),
        commit=fmt.short_commit(rec.env),
        dirty=rec.dirty,
    )


@dataclass
class Topic:
    """A topic's heading and its rows."""

    name: str
    title: str
    rows: list[Row]


def topic_groups(records: Sequence[RunRecord], labs: Mapping[str, Lab]) -> list[Topic]:
    """Every registered lab, by topic in display order, then runs of labs no longer registered."""
    by_lab = {rec.lab: rec for rec in records}
    groups = [
        Topic(
            name=topic,
            title=title,
            rows=[_row(n, lab, by_lab.get(n)) for n, lab in labs.items() if lab.topic == topic],
        )
        for topic, title in topics().items()
    ]
    orphans = sorted(set(by_lab) - set(labs))
    if orphans:
        rows = [_row(name, None, by_lab[name]) for name in orphans]
        groups.append(
            Topic(name="unregistered", title="runs of labs no longer registered", rows=rows)
        )
    return [g for g in groups if g.rows]


def page_name(lab: str) -> str:
    return f"{lab}.html"


def lab_notes(lab: str) -> str | None:
    """``docs/labs/<lab>.md`` as HTML, its first heading (the file's title) left out."""
    path = project_root() / "docs" / "labs" / f"{lab}.md"
    if not path.is_file():
        return None
    import markdown

    lines = path.read_text().strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    # The page's own headings are h1 and h2; a note's "##" becomes an h3 below them.
    return markdown.markdown(
        "\n".join(lines),
        extensions=["tables", "fenced_code", "sane_lists", "toc"],
        extension_configs={"toc": {"baselevel": 2}},
        output_format="html",
    )


def _config_value_arg(value: Any) -> str:
    """A config value written the way ``--set key=value`` parses it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def reproduce_command(rec: RunRecord, lab: Lab | None) -> str:
    """The ``practicum run`` line that repeats this run: seed, mode and changed config values."""
    summary = rec.summary
    parts = ["practicum", "run", rec.lab, "--seed", str(summary.get("seed", 0))]
    quick = bool(summary.get("quick"))
    if quick:
        parts.append("--quick")
    recorded = (rec.config or {}).get("config")
    if lab is not None and isinstance(recorded, dict):
        try:
            defaults = dataclasses.asdict(make_config(lab, quick=quick))
        except (PracticumError, TypeError, ValueError):
            defaults = {}
        for key, value in recorded.items():
            # JSON turns tuples into lists; compare on the JSON form.
            if key in defaults and json.dumps(defaults[key]) != json.dumps(value):
                parts += ["--set", f"{key}={_config_value_arg(value)}"]
    return shlex.join(parts)


def _shown_path(path: Path) -> str:
    """A folder inside the project relative to its root (``docs/results/mnist-cnn``)."""
    root = project_root()
    if path.is_absolute() and path.is_relative_to(root):
        return str(path.relative_to(root))
    return str(path)


def _value_text(value: Any) -> str:
    """A config or environment value as it reads in JSON (strings as they are)."""
    return value if isinstance(value, str) else json.dumps(value)


# ---- rendering ----------------------------------------------------------------------------
@cache
def _templates() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("practicum", "templates"),
        # HTML is escaped; the Markdown report escapes its table cells with the `md` filter.
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        number=fmt.number,
        duration=fmt.duration,
        commit=lambda sha: fmt.short_commit({"git_commit": sha}),
        json=_value_text,
        md=_md,
    )
    env.globals.update(dirty_note=DIRTY_NOTE)
    return env


def _lead(records: Sequence[RunRecord], labs: Mapping[str, Lab], of_record: bool) -> str:
    passed = sum(1 for rec in records if rec.summary.get("passed"))
    if of_record:
        dirty = sum(1 for rec in records if rec.dirty)
        return (
            f"The run of record of each lab, from docs/results/: {passed} of {len(records)} "
            f"records met their targets; {len(labs)} labs are registered; {dirty} records were "
            f"{DIRTY_NOTE}."
        )
    return (
        f"The newest finished run of each lab: {passed} of {len(records)} runs met their "
        f"targets; {len(labs)} labs are registered."
    )


def render_index(
    records: Sequence[RunRecord], labs: Mapping[str, Lab], generated: str, of_record: bool = False
) -> str:
    """``index.html``: every lab by topic, each row linking to its page."""
    return (
        _templates()
        .get_template("index.html")
        .render(
            title="practicum: reproducibility report",
            lead=_lead(records, labs, of_record),
            groups=topic_groups(records, labs),
            any_dirty=any(rec.dirty for rec in records),
            generated=generated,
        )
    )


def render_lab_page(
    rec: RunRecord | None, lab: Lab | None, plot_dir: str, generated: str, notes: str | None = None
) -> str:
    """``<lab>.html``: one run (or, with ``rec`` None, a registered lab not yet run)."""
    from markupsafe import Markup

    if rec is None and lab is None:
        raise ValueError("a lab page needs a run or a registered lab")
    name = rec.lab if rec is not None else lab.name
    row = _row(name, lab, rec)
    facts: list[tuple[str, str]] = [("source", row.source)]
    if lab is not None:
        facts.append(("topic", f"{lab.topic} — {topics().get(lab.topic, lab.topic)}"))
        if lab.courses:
            facts.append(("courses", "; ".join(COURSES[c] for c in lab.courses)))
    if rec is None:
        command = shlex.join(["practicum", "run", name])
        config = dataclasses.asdict(lab.config()) if lab is not None else None
        metrics: dict[str, Any] = {}
        env = None
        targets = [t.judge({}) for t in lab.targets] if lab else []  # no achieved values
    else:
        s = rec.summary
        facts += [
            ("run folder", _shown_path(rec.dir)),
            ("seed", row.seed),
            ("mode", row.mode),
            ("wall time", row.wall_time),
            ("CPU", str((rec.env or {}).get("cpu") or "–")),
            ("device", row.device),
            ("param_hash", str(s.get("param_hash", "–"))),
            ("git commit", str((rec.env or {}).get("git_commit") or "–")),
        ]
        command = reproduce_command(rec, lab)
        config = (rec.config or {}).get("config")
        metrics = s["metrics"]
        env = rec.env
        targets = s["targets"]
    return (
        _templates()
        .get_template("lab.html")
        .render(
            title=f"practicum: {name}",
            name=name,
            lab=lab,
            rec=rec,
            row=row,
            facts=facts,
            command=command,
            targets=targets,
            metrics=metrics,
            seeds=rec.seeds if rec is not None else None,
            plots=[f"{plot_dir}/{p.name}" for p in rec.plots] if rec is not None else [],
            # Rendered from the repository's own docs/labs/, never from a run folder.
            notes=Markup(notes) if notes is not None else None,
            config=config if isinstance(config, dict) else None,
            env=env,
            generated=generated,
        )
    )


def _md(text: Any) -> str:
    """A Markdown table cell: no pipes or line breaks of its own."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(
    records: Sequence[RunRecord], labs: Mapping[str, Lab], of_record: bool = False
) -> str:
    """``docs/reproducibility.md``: the index's tables, and each record's seeds, in Markdown."""
    return (
        _templates()
        .get_template("reproducibility.md")
        .render(
            groups=topic_groups(records, labs),
            of_record=of_record,
            any_dirty=any(rec.dirty for rec in records),
            seeded=[rec for rec in records if rec.seeds],
        )
    )


# ---- building the site ---------------------------------------------------------------------
def default_docs_path() -> Path:
    return project_root() / "docs" / "reproducibility.md"


def write_records_markdown() -> Path:
    """Rewrite docs/reproducibility.md from docs/results/ (after `practicum record`)."""
    path = default_docs_path()
    atomic_write_text(path, render_markdown(load_records(results_dir()), all_labs(), True))
    return path


def build_report(
    run_dirs: Sequence[str | Path] = (),
    out: str | Path = "report",
    runs_root: str | Path = "runs",
    docs_md: str | Path | None = None,
    records_from: str | Path | None = None,
) -> list[RunRecord]:
    """Write the site into ``out`` (and the Markdown tables to ``docs_md`` unless None), from
    the runs found under ``runs_root`` or, with ``records_from``, from the runs of record."""
    if records_from is not None:
        records = load_records(records_from)
    else:
        records = collect_runs(run_dirs, runs_root)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise PracticumError(f"--out {out} exists and is not a folder")
    labs = all_labs()
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    by_lab = {rec.lab: rec for rec in records}
    for name in [*labs, *sorted(set(by_lab) - set(labs))]:
        rec = by_lab.get(name)
        # The plots folder is rebuilt so a plot a lab no longer draws does not linger.
        plot_dir = out / name
        if plot_dir.is_dir():
            shutil.rmtree(plot_dir)
        for plot in rec.plots if rec is not None else []:
            atomic_write_bytes(plot_dir / plot.name, plot.read_bytes())
        page = render_lab_page(rec, labs.get(name), name, generated, lab_notes(name))
        atomic_write_text(out / page_name(name), page)
    index = render_index(records, labs, generated, of_record=records_from is not None)
    atomic_write_text(out / "index.html", index)
    if docs_md is not None:
        atomic_write_text(docs_md, render_markdown(records, labs, records_from is not None))
    return records


def cmd_report(args: argparse.Namespace) -> int:
    """``practicum report [RUN_DIR ...]``: see the module docstring."""
    docs_md = None if args.no_docs else (args.docs_md or default_docs_path())
    records_from = None
    if args.records:
        if args.run_dirs:
            raise PracticumError("--records reads docs/results/; do not name run folders too")
        records_from = results_dir()
    records = build_report(args.run_dirs, args.out, args.runs_root, docs_md, records_from)
    out = Path(args.out)
    print(f"report of {len(records)} runs: {out / 'index.html'}")
    if docs_md is not None:
        print(f"markdown table: {docs_md}")
    return 0
