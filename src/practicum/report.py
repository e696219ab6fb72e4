"""The reproducibility report: a static web site of the newest run of every lab.

``practicum report`` reads finished run folders (those with a ``summary.json``), or with
``--records`` the runs of record committed in ``docs/results/``, and writes

* ``report/index.html`` -- one table row per registered lab: source, targets, achieved values,
  pass/fail, seed, quick/full, wall time and git commit;
* ``report/<lab>.html`` -- that run's config, metrics, targets, plots and environment, with the
  command that reproduces it;
* ``report/<lab>/*.png`` -- copies of the plots, so the folder is self-contained and opens from
  disk without a server;
* ``docs/reproducibility.md`` -- the same table in Markdown, for the repository.

The pages are plain HTML with inline CSS: no JavaScript, no fonts or styles from the network.
Every piece of text from a run folder is escaped before it goes into a page.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from practicum.errors import PracticumError
from practicum.io import atomic_write_bytes, atomic_write_text, read_json
from practicum.lab import Lab, all_labs, make_config
from practicum.run import load_summary


@dataclass
class RunRecord:
    """Everything the report shows about one finished run folder."""

    dir: Path
    summary: dict[str, Any]
    config: dict[str, Any] | None  # config.json, if the run wrote one
    env: dict[str, Any] | None  # env.json, if the run wrote one
    plots: list[Path]

    @property
    def lab(self) -> str:
        return str(self.summary["lab"])


# ---- finding and reading runs ----------------------------------------------------------
def _optional_json(path: Path) -> dict[str, Any] | None:
    """A side file of a run folder; a missing or unreadable one is shown as 'not recorded'."""
    try:
        value = read_json(path)
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def load_run(run_dir: str | Path) -> RunRecord:
    run_dir = Path(run_dir)
    summary = load_summary(run_dir)  # one-line PracticumError if it is missing or bad
    return RunRecord(
        dir=run_dir,
        summary=summary,
        config=_optional_json(run_dir / "config.json"),
        env=_optional_json(run_dir / "env.json"),
        plots=sorted((run_dir / "plots").glob("*.png")),
    )


def load_records(results: str | Path) -> list[RunRecord]:
    """The runs of record: ``<lab>.json`` (a run's summary) with its config, env and plots in
    ``<lab>/``, as ``practicum record`` lays them out in docs/results/."""
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


# ---- formatting ------------------------------------------------------------------------
def format_number(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_seconds(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "–"
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def short_commit(env: dict[str, Any] | None) -> str:
    commit = (env or {}).get("git_commit")
    if not commit:
        return "–"
    sha, _, dirty = str(commit).partition("+")
    return sha[:10] + (f"+{dirty}" if dirty else "")


def _target_text(t: dict[str, Any]) -> str:
    return f"{t['metric']} {t['op']} {t['value']:g}"


def _achieved_text(t: dict[str, Any]) -> str:
    return f"{format_number(t.get('achieved'))} ({'pass' if t.get('passed') else 'FAIL'})"


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


# ---- HTML ------------------------------------------------------------------------------
CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --zebra: #f6f8fa;
        --pass: #1a7f37; --pass-bg: #dafbe1; --fail: #cf222e; --fail-bg: #ffebe9;
        --none: #6e7781; --link: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font: 15px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin: 0 0 16px; }
a { color: var(--link); text-decoration: none; }
a:hover { text-decoration: underline; }
nav { font-size: 14px; margin-bottom: 12px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
h1 code { font-size: inherit; }
td code, .nowrap { white-space: nowrap; }
pre { background: var(--zebra); border: 1px solid var(--line); border-radius: 6px;
      padding: 10px 12px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: var(--zebra); font-weight: 600; }
tbody tr:nth-child(even) { background: #fbfcfd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv { width: auto; min-width: 50%; }
table.kv th { width: 16em; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; white-space: nowrap; }
.pass { color: var(--pass); background: var(--pass-bg); }
.fail { color: var(--fail); background: var(--fail-bg); }
.none { color: var(--none); background: var(--zebra); }
tr.not-run td { color: var(--none); }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(460px, 1fr)); gap: 20px;
         align-items: start; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { text-align: center; color: var(--muted); font-size: 13px; margin-top: 4px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
"""


def _badge(passed: bool | None) -> str:
    if passed is None:
        return '<span class="badge none">not run</span>'
    return (
        '<span class="badge pass">pass</span>' if passed else '<span class="badge fail">FAIL</span>'
    )


def _page(title: str, body: str, generated: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n"
        f"<footer>Generated by <code>practicum report</code> at {escape(generated)}.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def _lines(texts: Iterable[str]) -> str:
    """One entry per line in a table cell; an entry itself is never broken."""
    return "<br>".join(f'<span class="nowrap">{escape(t)}</span>' for t in texts)


def _kv_table(items: Iterable[tuple[str, Any]], css_id: str, prose: Iterable[str] = ()) -> str:
    """A two-column table; values are shown as code, except for the keys in ``prose``."""
    prose = set(prose)
    rows = []
    for key, value in items:
        text = value if isinstance(value, str) else json.dumps(value)
        css = "" if key in prose else " class='mono'"
        rows.append(f"<tr><th>{escape(str(key))}</th><td{css}>{escape(text)}</td></tr>")
    if not rows:
        return "<p>not recorded</p>"
    return f'<table class="kv" id="{css_id}"><tbody>{"".join(rows)}</tbody></table>'


def page_name(lab: str) -> str:
    return f"{lab}.html"


def render_index(records: list[RunRecord], labs: dict[str, Lab], generated: str) -> str:
    by_lab = {rec.lab: rec for rec in records}
    # Registered labs in course order, then any run of a lab that is no longer registered.
    names = [*labs, *sorted(set(by_lab) - set(labs))]
    rows = []
    for name in names:
        lab = labs.get(name)
        rec = by_lab.get(name)
        source = lab.source if lab else "(not registered)"
        if rec is None:
            targets = _lines(t.describe() for t in lab.targets) if lab else ""
            cells = [
                f"<code>{escape(name)}</code>",
                escape(source),
                targets,
                "–",
                _badge(None),
                "–",
                "–",
                "–",
                "–",
            ]
            rows.append('<tr class="not-run"><td>' + "</td><td>".join(cells) + "</td></tr>")
            continue
        s = rec.summary
        cells = [
            f'<a href="{quote(page_name(name))}"><code>{escape(name)}</code></a>',
            escape(source),
            _lines(_target_text(t) for t in s["targets"]),
            _lines(_achieved_text(t) for t in s["targets"]),
            _badge(bool(s.get("passed"))),
            escape(format_number(s.get("seed"))),
            "quick" if s.get("quick") else "full",
            escape(format_seconds(s.get("wall_time_s"))),
            f'<span class="mono">{escape(short_commit(rec.env))}</span>',
        ]
        classes = ["", "", "", "num", "", "num", "", "num", ""]
        tds = "".join(
            f'<td class="{c}">{x}</td>' if c else f"<td>{x}</td>"
            for c, x in zip(classes, cells, strict=True)
        )
        rows.append(f'<tr class="run" data-lab="{escape(name)}">{tds}</tr>')
    header = [
        "lab",
        "source",
        "target(s)",
        "achieved",
        "result",
        "seed",
        "mode",
        "wall time",
        "git commit",
    ]
    passed = sum(1 for rec in records if rec.summary.get("passed"))
    body = (
        "<h1>practicum: reproducibility report</h1>\n"
        f'<p class="lead">The newest finished run of each lab: {passed} of {len(records)} '
        f"runs met their targets; {len(labs)} labs are registered. Open a lab for its config, "
        "metrics, plots and environment.</p>\n"
        '<table id="labs"><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in header)
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table>"
    )
    return _page("practicum: reproducibility report", body, generated)


def render_lab_page(rec: RunRecord, lab: Lab | None, plot_dir: str, generated: str) -> str:
    s = rec.summary
    title = lab.title if lab else rec.lab
    mode = "quick" if s.get("quick") else "full"
    facts = [
        ("source", lab.source if lab else "(not registered)"),
        ("run folder", str(rec.dir)),
        ("seed", format_number(s.get("seed"))),
        ("mode", mode),
        ("wall time", format_seconds(s.get("wall_time_s"))),
        ("param_hash", str(s.get("param_hash", "–"))),
        ("git commit", str((rec.env or {}).get("git_commit") or "–")),
    ]
    target_rows = "".join(
        "<tr>"
        f"<td><code>{escape(t['metric'])}</code></td>"
        f"<td class='num'>{escape(t['op'])} {escape(format(t['value'], 'g'))}</td>"
        f"<td class='num'>{escape(format_number(t.get('achieved')))}</td>"
        f"<td>{_badge(bool(t.get('passed')))}</td>"
        f"<td>{escape(str(t.get('source', '')))}</td>"
        "</tr>"
        for t in s["targets"]
    )
    metric_rows = "".join(
        f"<tr><td><code>{escape(str(k))}</code></td>"
        f"<td class='num'>{escape(format_number(v))}</td></tr>"
        for k, v in s["metrics"].items()
    )
    config = (rec.config or {}).get("config")
    figures = "".join(
        f'<figure><img src="{quote(plot_dir)}/{quote(p.name)}" alt="{escape(p.stem)} plot">'
        f"<figcaption>{escape(p.name)}</figcaption></figure>"
        for p in rec.plots
    )
    body = (
        '<nav><a href="index.html">← all labs</a></nav>\n'
        f"<h1><code>{escape(rec.lab)}</code> {_badge(bool(s.get('passed')))}</h1>\n"
        f'<p class="lead">{escape(title)}'
        + (f" — {escape(lab.summary)}" if lab and lab.summary else "")
        + "</p>\n"
        + _kv_table(facts, "run", prose=("source", "mode", "wall time"))
        + "<h2>Reproduce</h2>\n"
        f"<pre><code>{escape(reproduce_command(rec, lab))}</code></pre>\n"
        "<h2>Targets</h2>\n"
        '<table id="targets"><thead><tr><th>metric</th><th>target</th><th>achieved</th>'
        f"<th>result</th><th>source of the target</th></tr></thead><tbody>{target_rows}"
        "</tbody></table>\n"
        "<h2>Metrics</h2>\n"
        '<table class="kv" id="metrics"><thead><tr><th>metric</th><th>value</th></tr></thead>'
        f"<tbody>{metric_rows}</tbody></table>\n"
        "<h2>Plots</h2>\n"
        + (f'<div class="plots">{figures}</div>\n' if figures else "<p>no plots</p>\n")
        + "<h2>Config</h2>\n"
        + (
            _kv_table(config.items(), "config")
            if isinstance(config, dict)
            else "<p>not recorded</p>"
        )
        + "\n<h2>Environment</h2>\n"
        + (_kv_table(rec.env.items(), "env") if rec.env else "<p>not recorded</p>")
    )
    return _page(f"practicum: {rec.lab}", body, generated)


# ---- Markdown --------------------------------------------------------------------------
def _md(text: str) -> str:
    """A Markdown table cell: no pipes or line breaks of its own."""
    return text.replace("|", "\\|").replace("\n", " ")


def machine_note(env: dict[str, Any] | None) -> str:
    """' on H100' for a run on a GPU (from its env.json), else ''."""
    if not env or not str(env.get("device", "cpu")).startswith("cuda"):
        return ""
    return " on " + str(env.get("gpu", "GPU")).removeprefix("NVIDIA ").split()[0]


def markdown_table(records: list[RunRecord], labs: dict[str, Lab]) -> str:
    by_lab = {rec.lab: rec for rec in records}
    lines = [
        "| lab | source | target(s) | achieved | result | seed | mode | wall time | git commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in [*labs, *sorted(set(by_lab) - set(labs))]:
        lab = labs.get(name)
        rec = by_lab.get(name)
        source = _md(lab.source if lab else "(not registered)")
        if rec is None:
            targets = "<br>".join(_md(t.describe()) for t in lab.targets) if lab else ""
            lines.append(f"| `{name}` | {source} | {targets} | – | not run | – | – | – | – |")
            continue
        s = rec.summary
        targets = "<br>".join(_md(_target_text(t)) for t in s["targets"])
        achieved = "<br>".join(_md(_achieved_text(t)) for t in s["targets"])
        result = "✅ pass" if s.get("passed") else "❌ FAIL"
        mode = "quick" if s.get("quick") else "full"
        lines.append(
            f"| `{name}` | {source} | {targets} | {achieved} | {result} "
            f"| {format_number(s.get('seed'))} | {mode} "
            f"| {format_seconds(s.get('wall_time_s'))}{machine_note(rec.env)} "
            f"| `{short_commit(rec.env)}` |"
        )
    return "\n".join(lines)


def render_markdown(records: list[RunRecord], labs: dict[str, Lab], of_record: bool = False) -> str:
    which = (
        "The run of record of each lab, read from `docs/results/` by `practicum report --records`"
        if of_record
        else "The newest finished run of each lab, as found by `practicum report`"
    )
    return (
        "# Reproducibility report\n\n"
        "<!-- generated by `practicum report`; do not edit -->\n\n"
        f"{which} (seed, quick or full, wall time on the machine that ran it, and the git "
        "commit from the run's `env.json`). `practicum report` also builds a browsable site in "
        "`report/` with each run's config, metrics, plots and environment.\n\n"
        f"{markdown_table(records, labs)}\n"
    )


# ---- building the site -----------------------------------------------------------------
def default_docs_path() -> Path:
    from practicum.readme import project_root

    return project_root() / "docs" / "reproducibility.md"


def write_records_markdown() -> Path:
    """Rewrite docs/reproducibility.md from docs/results/ (after `practicum record`)."""
    from practicum.readme import results_dir

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
    """Write the site into ``out`` (and the Markdown table to ``docs_md`` unless None), from
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
    for rec in records:
        # The plots folder is rebuilt so a plot a lab no longer draws does not linger.
        plot_dir = out / rec.lab
        if plot_dir.is_dir():
            shutil.rmtree(plot_dir)
        for plot in rec.plots:
            atomic_write_bytes(plot_dir / plot.name, plot.read_bytes())
        page = render_lab_page(rec, labs.get(rec.lab), rec.lab, generated)
        atomic_write_text(out / page_name(rec.lab), page)
    atomic_write_text(out / "index.html", render_index(records, labs, generated))
    if docs_md is not None:
        atomic_write_text(docs_md, render_markdown(records, labs, records_from is not None))
    return records


def cmd_report(args: argparse.Namespace) -> int:
    """``practicum report [RUN_DIR ...]``: see the module docstring."""
    docs_md = None if args.no_docs else (args.docs_md or default_docs_path())
    records_from = None
    if args.records:
        from practicum.readme import results_dir

        if args.run_dirs:
            raise PracticumError("--records reads docs/results/; do not name run folders too")
        records_from = results_dir()
    records = build_report(args.run_dirs, args.out, args.runs_root, docs_md, records_from)
    out = Path(args.out)
    print(f"report of {len(records)} runs: {out / 'index.html'}")
    if docs_md is not None:
        print(f"markdown table: {docs_md}")
    return 0
