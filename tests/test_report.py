"""The reproducibility report: which runs it picks, what its pages say, and that they render.

The last test opens the site in headless Chromium through the DevTools protocol (a small
client over ``--remote-debugging-pipe``, no extra dependency) and checks that the table and
every plot render with no console error; it also breaks one image on purpose to show that the
check catches it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import select
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from practicum.cli import main
from practicum.lab import all_labs, topics
from practicum.launch import run_lab
from practicum.records import project_root, results_dir

OLD_STAMP = "20260101T000000Z"
NEW_STAMP = "20250101T000000Z"  # an older name on purpose: the newer summary.json must win


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    """Three real quick runs: sine-basis with seeds 0 and 1, and a shortened spirals run.

    Runs are shortened with ``--set steps=...`` where the test needs no passing result.
    """
    root = tmp_path_factory.mktemp("runs")
    older = root / "sine-basis" / f"{OLD_STAMP}-s0"
    run_lab("sine-basis", quick=True, seed=0, overrides={"steps": "200"}, out=older, quiet=True)
    newer, _ = run_lab(
        "sine-basis", quick=True, seed=1, out=root / "sine-basis" / f"{NEW_STAMP}-s1", quiet=True
    )
    # Seed 1 finished later, whatever the clock's resolution says.
    stamp = time.time() + 10
    os.utime(root / "sine-basis" / f"{NEW_STAMP}-s1" / "summary.json", (stamp, stamp))
    # Too few steps to meet the quick targets (the report must show a FAIL just as clearly).
    run_lab(
        "spirals",
        quick=True,
        seed=0,
        overrides={"steps": "60"},
        out=root / "spirals" / f"{OLD_STAMP}-s0",
        quiet=True,
    )
    # An unfinished run (no summary.json) is ignored.
    (root / "spirals" / "20270101T000000Z-s0" / "plots").mkdir(parents=True)
    assert newer["seed"] == 1
    return root


def build(capsys, runs_root: Path, tmp_path: Path, *extra: str) -> tuple[int, str, str]:
    args = ["report", "--runs-root", str(runs_root), "--out", str(tmp_path / "site")]
    args += ["--docs-md", str(tmp_path / "reproducibility.md"), *extra]
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def summary_of(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "summary.json").read_text())


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its SHA-256: equal digests mean nothing was written."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_no_builder_paths(site: Path, *builder_paths: Path) -> None:
    """No page names the repository's or the builder's absolute folders, nor /tmp."""
    for page in site.glob("*.html"):
        html = page.read_text()
        for path in (project_root(), *builder_paths):
            assert str(path) not in html, f"{page.name} shows {path}"
        assert "/tmp" not in html, page.name


def test_report_picks_newest_run_per_lab_and_links_everything(capsys, runs_root, tmp_path):
    code, out, err = build(capsys, runs_root, tmp_path)
    assert code == 0, err
    site = tmp_path / "site"
    assert f"{site / 'index.html'}" in out

    index = (site / "index.html").read_text()
    rows = re.findall(r'<tr class="run" data-lab="([^"]+)">(.*?)</tr>', index, re.S)
    assert [lab for lab, _ in rows] == ["sine-basis", "spirals"]  # course order
    sine_row, spirals_row = (row for _, row in rows)

    # sine-basis: the seed-1 run (newer summary.json), not the later-named seed-0 folder.
    sine = summary_of(runs_root / "sine-basis" / f"{NEW_STAMP}-s1")
    assert '<a href="sine-basis.html">' in sine_row
    assert "ECE472 assignment 1" in sine_row
    assert "rmse_to_sine &lt;= 0.1" in sine_row  # escaped
    assert f"{sine['metrics']['rmse_to_sine']:.4g}" in sine_row
    assert '<td class="num">1</td>' in sine_row and "quick" in sine_row
    assert f"{sine['wall_time_s']:.1f} s" in sine_row
    env = json.loads((runs_root / "sine-basis" / f"{NEW_STAMP}-s1" / "env.json").read_text())
    if env["git_commit"]:
        assert env["git_commit"][:10] in sine_row

    spirals = summary_of(runs_root / "spirals" / f"{OLD_STAMP}-s0")
    assert not spirals["passed"], "60 steps should not reach the quick targets"
    assert "badge fail" in spirals_row and "badge pass" not in spirals_row
    assert "badge pass" in sine_row

    # Registered labs without a run are listed, each with a page of its targets and notes.
    assert re.search(
        r'<tr class="not-run" data-lab="diy-backprop"><td><a href="diy-backprop.html">', index
    )
    not_run = (site / "diy-backprop.html").read_text()
    assert "No run of this lab is in this report yet." in not_run
    assert "test_accuracy" in not_run and "<h2>Metrics</h2>" not in not_run

    # Topics in display order, each lab in its topic's group, in the registry's order.
    groups = re.findall(r'<tbody id="topic-([a-z]+)">(.*?)</tbody>', index, re.S)
    assert [name for name, _ in groups] == list(topics())
    for name, body in groups:
        shown = re.findall(r'<tr class="(?:run|not-run)" data-lab="([^"]+)"', body)
        assert shown == [lab.name for lab in all_labs().values() if lab.topic == name]

    # Lab pages: config, metrics, targets, environment, and plots that point at copied files.
    page = (site / "sine-basis.html").read_text()
    for section in ("Targets", "Metrics", "Plots", "Config", "Environment", "Reproduce"):
        assert f"<h2>{section}</h2>" in page
    assert sine["param_hash"] in page
    # The lab's notes, rendered from docs/labs/sine-basis.md (Markdown emphasis becomes markup).
    notes = (project_root() / "docs" / "labs" / "sine-basis.md").read_text()
    rendered = page.split('<div class="notes">')[1].split("</div>")[0]
    emphasis = re.findall(r"(?<![*\w])\*([^*\s][^*]*)\*(?!\*)", notes)
    code = re.findall(r"`([^`]+)`", notes)
    assert emphasis and code, "sine-basis.md no longer has *emphasis* and `code` to check"
    for text in emphasis:
        assert f"<em>{text}</em>" in rendered
    for text in code:
        assert f"<code>{text}</code>" in rendered
    assert notes.splitlines()[0].lstrip("# ") not in rendered  # the title is the page's own
    assert "practicum run sine-basis --seed 1 --quick" in page
    spirals_page = (site / "spirals.html").read_text()
    assert "practicum run spirals --seed 0 --quick --set steps=60" in spirals_page
    for lab in ("sine-basis", "spirals"):
        html = (site / f"{lab}.html").read_text()
        sources = re.findall(r'<img src="([^"]+)"', html)
        plots = sorted(p.name for p in (runs_root / lab).glob(f"{OLD_STAMP}-s0/plots/*.png"))
        assert len(sources) == len(plots) > 0
        for src in sources:
            assert not src.startswith(("/", "file:", "http")), "links must be relative"
            assert (site / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The rows say what they are (runs found under a folder, not records); paths are relative.
    lead = re.search(r'<p class="lead">(.*?)</p>', index, re.S)[1]
    assert "the newest finished run of a lab under" in lead and "not a result of record" in lead
    assert_no_builder_paths(site, runs_root, tmp_path)
    assert "…/sine-basis/" + f"{NEW_STAMP}-s1" in page  # the run folder, without its root

    # The Markdown table: the same rows.
    md = (tmp_path / "reproducibility.md").read_text()
    assert re.search(r"^\| `sine-basis` \| ECE472 assignment 1 \| rmse_to_sine <= 0.1 \|", md, re.M)
    assert re.search(r"^\| `spirals` .*❌ FAIL \| 0 \| quick \|", md, re.M)
    assert re.search(r"^\| `diy-backprop` .*\| not run \|", md, re.M)


def test_text_from_a_run_is_escaped(capsys, runs_root, tmp_path):
    run = tmp_path / "runs" / "sine-basis" / "x"
    shutil.copytree(runs_root / "sine-basis" / f"{NEW_STAMP}-s1", run)
    config = json.loads((run / "config.json").read_text())
    config["config"]["note"] = "<script>alert(1)</script>"
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = build(capsys, tmp_path / "unused", tmp_path, str(run), "--no-docs")
    assert code == 0, err
    page = (tmp_path / "site" / "sine-basis.html").read_text()
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not (tmp_path / "reproducibility.md").exists()  # --no-docs wins over --docs-md


def test_clear_one_line_errors(capsys, runs_root, tmp_path):
    def one_line_error(*args: str) -> str:
        code, _, err = build(capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        return err

    assert "no finished runs under" in one_line_error(tmp_path / "empty", tmp_path)
    unfinished = runs_root / "spirals" / "20270101T000000Z-s0"
    err = one_line_error(runs_root, tmp_path, str(unfinished))
    assert "has no summary.json" in err
    both = [str(p) for p in sorted((runs_root / "sine-basis").iterdir())]
    assert "two runs of sine-basis" in one_line_error(runs_root, tmp_path, *both)
    assert "--records reads docs/results/" in one_line_error(
        runs_root, tmp_path, "--records", str(unfinished)
    )
    assert not (tmp_path / "site").exists()


def test_plain_report_writes_report_folder_only(capsys, runs_root, tmp_path, monkeypatch):
    """`practicum report` as the README shows it writes ./report/ and nothing else: docs/
    (with the committed docs/reproducibility.md) is byte for byte as it was."""
    docs = project_root() / "docs"
    before = tree_digest(docs)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").symlink_to(runs_root)
    assert main(["report"]) == 0
    out, _ = capsys.readouterr()
    assert "markdown" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "runs"]
    assert tree_digest(docs) == before
    site = tmp_path / "report"
    assert {"index.html", "sine-basis.html", "spirals.html"} <= {p.name for p in site.iterdir()}
    # Inside the current folder a run folder is shown relative to it.
    assert f"runs/sine-basis/{NEW_STAMP}-s1" in (site / "sine-basis.html").read_text()
    assert_no_builder_paths(site, tmp_path)
    # A second build into the same site is fine (it is an earlier report, not other files).
    assert main(["report"]) == 0
    # The committed Markdown holds the records: only --records may rewrite it.
    code = main(["report", "--docs-md", str(docs / "reproducibility.md")])
    _, err = capsys.readouterr()
    assert code == 2 and "practicum report --records" in err
    assert tree_digest(docs) == before


def test_bad_out_is_one_line_and_writes_nothing(capsys, runs_root, tmp_path):
    """`report --out` that is empty, a file, under a file, not creatable or a folder of other
    files: one line, exit 2, and every file where it was."""
    docs = project_root() / "docs"
    before_docs = tree_digest(docs)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    others = tmp_path / "others"
    (others / "spirals").mkdir(parents=True)  # a lab-named folder the site would replace
    (others / "spirals" / "mine.png").write_bytes(b"keep")
    bad = {
        "": "--out is empty",
        str(a_file): "is a file",
        str(a_file / "site"): "cannot be created",
        str(others): "holds other files",
    }
    if Path("/proc/self").is_dir():
        bad["/proc/practicum-site"] = "cannot be created"
    before = tree_digest(tmp_path)
    for out, needle in bad.items():
        code = main(["report", "--runs-root", str(runs_root), "--out", out])
        _, err = capsys.readouterr()
        assert code == 2, out
        assert err.startswith("practicum: error: ") and len(err.strip().splitlines()) == 1, err
        assert needle in err and "Traceback" not in err, (out, err)
    assert tree_digest(tmp_path) == before
    assert tree_digest(docs) == before_docs
    assert not Path("/proc/practicum-site").exists()


def test_records_mode_builds_the_site_from_the_results_of_record(capsys, tmp_path):
    """`--records` reads docs/results/ (committed runs of record), one page per recorded lab,
    with the plots copied beside the pages and a GPU run's wall time marked as such."""
    from practicum.report import page_name

    code, out, err = build(capsys, tmp_path / "no-runs", tmp_path, "--records")
    assert code == 0, err
    recorded = sorted(p.stem for p in results_dir().glob("*.json"))
    assert f"report of {len(recorded)} runs" in out
    for lab in recorded:
        assert (tmp_path / "site" / page_name(lab)).is_file()
        for plot in (results_dir() / lab).glob("*.png"):
            assert (tmp_path / "site" / lab / plot.name).read_bytes() == plot.read_bytes()
    table = (tmp_path / "reproducibility.md").read_text()
    assert "read from `docs/results/`" in table
    assert "on H100" in table  # cifar10-resnet's run of record ran on one
    site = tmp_path / "site"
    assert_no_builder_paths(site, tmp_path)
    lead = re.search(r'<p class="lead">(.*?)</p>', (site / "index.html").read_text(), re.S)[1]
    assert "newest" not in lead and "Each row is a lab&#39;s run of record" in lead
    cifar = (site / "cifar10-resnet.html").read_text()
    assert "practicum run cifar10-resnet --seed 0 --device cuda</code>" in cifar


def test_a_records_audio_is_copied_and_played_on_its_page(tmp_path):
    """WAV files beside a record are copied into the site and shown as <audio> players."""
    from practicum.report import build_report, page_name

    results = tmp_path / "results"
    results.mkdir()
    _copy_record("sine-basis", results)
    (results / "sine-basis" / "audio").mkdir()
    (results / "sine-basis" / "audio" / "01-mixture.wav").write_bytes(b"RIFF-wav")
    site = tmp_path / "site"
    build_report(out=site, records_from=results)
    assert (site / "sine-basis" / "audio" / "01-mixture.wav").read_bytes() == b"RIFF-wav"
    page = (site / page_name("sine-basis")).read_text()
    assert '<audio controls preload="none" src="sine-basis/audio/01-mixture.wav">' in page
    assert "<audio" not in (site / "index.html").read_text()


def _copy_record(lab: str, dest: Path, **env_changes: Any) -> None:
    shutil.copy(results_dir() / f"{lab}.json", dest / f"{lab}.json")
    shutil.copytree(results_dir() / lab, dest / lab)
    env = json.loads((dest / lab / "env.json").read_text())
    (dest / lab / "env.json").write_text(json.dumps({**env, **env_changes}))


def test_records_show_machine_uncommitted_code_and_seeds(tmp_path):
    """A record made from a +dirty commit is marked on the index, its page and the Markdown;
    a clean one is not; each names its CPU model and device; seeds.json is shown in full."""
    from practicum.records import seed_stats
    from practicum.report import DIRTY_NOTE, build_report

    results = tmp_path / "results"
    results.mkdir()
    _copy_record("sine-basis", results, git_commit="a" * 40, cpu="Intel(R) Xeon(R) Processor")
    _copy_record(
        "spirals",
        results,
        git_commit="b" * 40 + "+dirty",
        cpu="AMD EPYC",
        device="cuda:0",
        gpu="NVIDIA H100 80GB HBM3",
        num_threads=2,
    )
    # A record keeps its targets' wording of the day; the page shows the lab's words now.
    spirals_summary = json.loads((results / "spirals.json").read_text())
    for t in spirals_summary["targets"]:
        t["source"] = "issue 2"
    spirals_summary["wall_time_s"] = 754.0
    (results / "spirals.json").write_text(json.dumps(spirals_summary))
    values = [0.048, 0.050, 0.052]
    runs = [
        {
            "seed": seed,
            "metrics": {"rmse_to_sine": v},
            "param_hash": f"{seed}" * 64,
            "wall_time_s": 4.0 + seed,
            "git_commit": "a" * 40,
            "cpu": "Intel(R) Xeon(R) Processor",
            "record": seed == 0,
        }
        for seed, v in enumerate(values)
    ]
    seeds = {"lab": "sine-basis", "config": {}, "runs": runs}
    seeds["stats"] = {"rmse_to_sine": seed_stats(values)}
    (results / "sine-basis" / "seeds.json").write_text(json.dumps(seeds))

    site, md_path = tmp_path / "site", tmp_path / "reproducibility.md"
    build_report(out=site, docs_md=md_path, records_from=results)
    index = (site / "index.html").read_text()
    rows = dict(re.findall(r'<tr class="run" data-lab="([^"]+)">(.*?)</tr>', index, re.S))
    assert set(rows) == {"sine-basis", "spirals"}
    assert "badge dirty" in rows["spirals"] and "badge dirty" not in rows["sine-basis"]
    assert DIRTY_NOTE in index
    assert "Intel Xeon" in rows["sine-basis"] and "AMD EPYC" in rows["spirals"]
    assert "cpu" in rows["sine-basis"]  # the device
    assert "rmse_to_sine: 0.05 ± 0.002 over 3 seeds" in rows["sine-basis"]
    assert "of 3" in rows["sine-basis"]

    dirty_page = (site / "spirals.html").read_text()
    assert DIRTY_NOTE.capitalize() in dirty_page and "b" * 40 + "+dirty" in dirty_page
    # Reproduce: the device and threads it ran with, and what it took on them.
    assert "<code>practicum run spirals --seed 0 --device cuda --threads 2</code>" in dirty_page
    note = re.search(r'<p id="reproduce-note">(.*?)</p>', dirty_page, re.S)[1]
    assert note.startswith("The run of record took 12.6 min (device cuda:0 on H100, 2 threads")
    assert "12.6 min on H100" in rows["spirals"]  # the wall time names the GPU, as the README
    sources = re.findall(
        r"<td>([^<]*)</td></tr>", dirty_page.split('id="targets"')[1].split("</table>")[0]
    )
    registered = [t.source for t in all_labs()["spirals"].targets]
    assert sources[: len(registered)] == registered and "issue 2" not in dirty_page
    # The lab's doc: on the page itself when the site lies outside the project.
    assert '<a href="#notes"><code>docs/labs/spirals.md</code></a>' in dirty_page
    assert '<h2 id="notes">Notes</h2>' in dirty_page
    # A lab without a record shows its own estimate, marked as one.
    estimate = re.search(r'<tr class="not-run" data-lab="es">(.*?)</tr>', index, re.S)[1]
    assert f"≈ {all_labs()['es'].time_full}" in estimate
    clean_page = (site / "sine-basis.html").read_text()
    assert DIRTY_NOTE.capitalize() not in clean_page
    assert "Intel(R) Xeon(R) Processor" in clean_page
    seed_rows = re.findall(
        r"<tr><td class=\"num\">(\d)</td>(.*?)</tr>", clean_page.split("seed-runs")[1]
    )
    assert [seed for seed, _ in seed_rows] == ["0", "1", "2"]
    assert [("run of record" in row) for _, row in seed_rows] == [True, False, False]
    for (_, row), v in zip(seed_rows, values, strict=True):
        assert f">{v:.4g}<" in row
    assert re.search(r"<td class=\"num\">0\.05</td><td class=\"num\">0\.002</td>", clean_page)

    md = md_path.read_text()
    sine_md = next(line for line in md.splitlines() if line.startswith("| `sine-basis`"))
    spirals_md = next(line for line in md.splitlines() if line.startswith("| `spirals`"))
    assert "⚠️" in spirals_md and "⚠️" not in sine_md
    assert "| 0 (of 3) |" in sine_md and "0.05 ± 0.002 over 3 seeds" in sine_md
    assert "Intel Xeon, cpu" in sine_md and "AMD EPYC, cuda:0 on H100" in spirals_md
    assert "### sine-basis" in md and "| 0 (record) | 0.048 |" in md


def test_doc_link_from_a_site_in_the_project_is_relative():
    from practicum.report import _doc_href

    root = project_root()
    assert _doc_href("sine-basis", root / "report") == "../docs/labs/sine-basis.md"
    assert _doc_href("sine-basis", root / "a" / "b") == "../../docs/labs/sine-basis.md"
    assert _doc_href("no-such-lab", root / "report") is None


def test_cpu_model_and_device_are_short_and_plain():
    from practicum.format import cpu_model, device_text

    assert cpu_model({"cpu": "Intel(R) Xeon(R) Processor"}) == "Intel Xeon"
    assert cpu_model({"cpu": "AMD EPYC 7763 64-Core Processor"}) == "AMD EPYC 7763 64-Core"
    assert cpu_model({}) == cpu_model(None) == "–"
    assert device_text({"device": "cuda", "gpu": "NVIDIA H100 80GB HBM3"}) == "cuda on H100"
    assert device_text({"device": "cpu"}) == "cpu" and device_text(None) == "–"


def test_the_table_module_does_not_import_the_report():
    """readme.py (the README table) and report.py (the site) are one-way: no import cycle."""
    import subprocess
    import sys

    code = "import sys, practicum.readme; print('practicum.report' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- rendering in a real browser ------------------------------------------------------
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1280,900",
]


def _above_4(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


class DevTools:
    """A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``.

    Chromium reads commands from its file descriptor 3 and writes replies and events to
    descriptor 4, one JSON object per message, each ended by a NUL byte.
    """

    def __init__(self, chromium: str, profile: Path, log: Path) -> None:
        cmd_read, self._cmd_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        # Our ends must not already sit on 3 or 4, or moving one would overwrite the other.
        cmd_read, reply_write = _above_4(cmd_read), _above_4(reply_write)
        self._log = log.open("wb")
        args = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        # posix_spawn (not Popen) because the pipe ends must land on exactly fds 3 and 4.
        self.pid = os.posix_spawn(
            chromium,
            args,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, self._log.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2),
                (os.POSIX_SPAWN_DUP2, cmd_read, 3),
                (os.POSIX_SPAWN_DUP2, reply_write, 4),
            ],
        )
        os.close(cmd_read)
        os.close(reply_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._reply_read], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._reply_read, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (see {self._log.name})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._cmd_write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, since: int) -> None:
        """Wait for an event named ``method`` after the first ``since`` events."""
        deadline = time.monotonic() + 30
        while not any(e.get("method") == method for e in self.events[since:]):
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        # Chromium may close the pipe before it answers; that is a clean exit too.
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        deadline = time.monotonic() + 10
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.05)
        os.close(self._cmd_write)
        os.close(self._reply_read)
        self._log.close()


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the protocol events."""
    errors = []
    for e in events:
        params = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and params.get("type") in (
            "error",
            "assert",
        ):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif e.get("method") == "Runtime.exceptionThrown":
            errors.append(params["exceptionDetails"].get("text", "exception"))
        elif e.get("method") == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
    return errors


# What the page looks like once loaded: every image decoded and laid out, the tables drawn.
PAGE_STATE = """(() => {
  const images = [...document.images];
  const box = (el) => el ? el.getBoundingClientRect() : {width: 0, height: 0};
  const header = document.querySelector('th');
  return {
    title: document.title,
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.src),
    shown: images.filter((i) => box(i).width >= 200 && box(i).height >= 100).length,
    rows: document.querySelectorAll('#labs tbody tr').length,
    runRows: document.querySelectorAll('#labs tbody tr.run').length,
    tableWidth: box(document.querySelector('table')).width,
    headerBackground: header ? getComputedStyle(header).backgroundColor : '',
  };
})()"""


def open_page(browser: DevTools, session: str, path: Path) -> tuple[dict[str, Any], list[str]]:
    since = len(browser.events)
    browser.send("Page.navigate", session, url=path.as_uri())
    browser.wait_for("Page.loadEventFired", since)
    state = browser.send("Runtime.evaluate", session, expression=PAGE_STATE, returnByValue=True)
    return state["result"]["value"], console_errors(browser.events[since:])


def screenshot(browser: DevTools, session: str, path: Path) -> None:
    """The whole page, not only the window."""
    size = browser.send("Page.getLayoutMetrics", session)["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.send(
        "Page.captureScreenshot", session, format="png", clip=clip, captureBeyondViewport=True
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        gray = image.convert("L")
        assert gray.width >= 1000 and gray.height >= 400
        low, high = gray.getextrema()
        assert high - low > 100, "the screenshot is blank"


def test_site_renders_in_headless_chromium(capsys, runs_root, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    code, _, err = build(capsys, runs_root, tmp_path, "--no-docs")
    assert code == 0, err
    site = tmp_path / "site"

    browser = DevTools(chromium, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session)

        state, errors = open_page(browser, session, site / "index.html")
        assert errors == []
        assert state["title"] == "practicum: reproducibility report"
        assert state["runRows"] == 2 and state["rows"] > 2
        assert state["tableWidth"] > 800
        assert state["headerBackground"] not in ("", "rgba(0, 0, 0, 0)"), "the CSS was not applied"
        screenshot(browser, session, tmp_path / "index.png")
        assert_not_blank(tmp_path / "index.png")

        for lab in ("sine-basis", "spirals"):
            state, errors = open_page(browser, session, site / f"{lab}.html")
            assert errors == []
            assert state["broken"] == []
            assert state["images"] == state["shown"] == len(list((site / lab).glob("*.png"))) > 0
            screenshot(browser, session, tmp_path / f"{lab}.png")
            assert_not_blank(tmp_path / f"{lab}.png")

        # The check can fail: a missing plot is a broken image and a console error.
        missing = sorted((site / "spirals").glob("*.png"))[0]
        missing.unlink()
        state, errors = open_page(browser, session, site / "spirals.html")
        assert [Path(src).name for src in state["broken"]] == [missing.name]
        assert any("ERR_FILE_NOT_FOUND" in e for e in errors), errors
    finally:
        browser.close()


def test_papers_page_lists_every_claim_beside_the_papers_number(tmp_path):
    """One row per target of a paper lab: claim, the paper's value, ours and the verdict; a
    target the run did not reach is 'not matched', a lab without a run is 'not run'."""
    import dataclasses

    from practicum.lab import Lab, Target, bounded
    from practicum.report import RunRecord, paper_claims, render_index, render_papers

    @dataclasses.dataclass
    class Config:
        steps: int = bounded(1, "[1, 10]")

    targets = [
        Target("mse", "<=", 0.9, "Li et al. 2017, Table 1 (K=10)", paper="0.77"),
        Target("ratio", ">=", 3.0, "Finn et al. 2017, Fig. 2", paper="about 10x"),
    ]
    ran = Lab(
        name="toy-paper",
        title="t",
        source="Finn et al. 2017",
        config=Config,
        run=lambda c, r: {},
        targets=targets,
        topic="papers",
    )
    unrun = dataclasses.replace(ran, name="other-paper", source="Someone 2020")
    plain = dataclasses.replace(
        ran, name="plain", topic="basics", targets=[Target("acc", ">=", 0.5, "ECE472 assignment 1")]
    )
    labs = {lab.name: lab for lab in (ran, unrun, plain)}
    judged = [targets[0].judge({"mse": 0.71}), targets[1].judge({"ratio": 2.0})]
    summary = {"lab": "toy-paper", "targets": judged, "quick": False, "metrics": {}}
    rec = RunRecord(dir=tmp_path, summary=summary, config=None, env=None, plots=[])

    claims = paper_claims([rec], labs)
    assert [(c.lab, c.paper_value, c.ours, c.matched) for c in claims] == [
        ("toy-paper", "0.77", "0.71", True),
        ("toy-paper", "about 10x", "2", False),
        ("other-paper", "0.77", "–", None),
        ("other-paper", "about 10x", "–", None),
    ]  # the lab without a paper claim ("plain") has no row
    html = render_papers([rec], labs, "now", of_record=True)
    assert "4 claims of 2 paper reproductions; 2 measured in the runs of record, 1 of them" in html
    assert html.count('<span class="badge pass">matched</span>') == 1
    assert html.count('<span class="badge fail">not matched</span>') == 1
    assert "Li et al. 2017, Table 1 (K=10)" in html and "about 10x" in html
    assert '<a href="papers.html">Papers</a>: 4 claims' in render_index([rec], labs, "now")
