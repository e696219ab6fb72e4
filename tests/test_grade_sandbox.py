"""The grader's sandbox: limits, isolation, the results channel, restarts after deaths, and
the hostile fixtures (tests/grade_fixtures/hostile/) each ending as failed checks."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import textwrap
from pathlib import Path

import pytest

from practicum.grade import runner
from practicum.grade.grading import Target, grade
from practicum.grade.sandbox import MB, Limits, Sandbox, _processes_of

FIXTURES = Path(__file__).parent / "grade_fixtures"
FAST = Limits(check_s=1.0, startup_s=5.0, total_s=3.0, processes=16, output_bytes=64 * 1024)


def py(code: str) -> list[str]:
    return [sys.executable, "-I", "-c", textwrap.dedent(code)]


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submission")
    (folder / "data.txt").write_text("the student's file\n")
    with Sandbox(folder, FAST) as sandbox:
        yield sandbox


def test_limits_end_the_command_with_a_clear_reason(box, tmp_path, monkeypatch):
    loop = box.run(py("import time\nwhile True: time.sleep(0.05)"))
    assert loop.timed_out == "total" and loop.death() == "timed out after 3 s"  # no channel
    assert box.run(py("import sys; sys.exit(3)")).death() == "the process exited with status 3"
    segv = box.run(py("import ctypes; ctypes.string_at(0)"))
    assert segv.death() == "the process was killed by SIGSEGV"
    flood = box.run(py("import sys\nwhile True: sys.stdout.write('x' * 65536)"))
    assert flood.output_exceeded and "output limit" in flood.death()
    assert len(flood.stdout) <= FAST.output_bytes
    mem = box.run(py("x = bytearray(100 * 2**30)"))
    assert b"MemoryError" in mem.stderr


def test_the_command_sees_its_private_copy_and_a_scrubbed_environment(box, monkeypatch):
    os.environ["PRACTICUM_GRADER_SECRET"] = "s3cret"
    try:
        out = box.run(py("import os, json; print(json.dumps([os.getcwd(), dict(os.environ)]))"))
    finally:
        del os.environ["PRACTICUM_GRADER_SECRET"]
    cwd, env = json.loads(out.stdout)
    assert Path(cwd) == box.workdir and (box.workdir / "data.txt").is_file()
    assert "PRACTICUM_GRADER_SECRET" not in env
    assert env["HOME"] == str(box.home) and env["HOME"] != os.environ.get("HOME")


def test_user_network_and_processes_are_isolated(box, tmp_path):
    if not (box.isolation.user and box.isolation.network):
        pytest.skip(f"this machine allows only: {box.isolation}")
    grader_file = tmp_path / "result.json"
    grader_file.write_text("{}")
    grader_file.chmod(0o644)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    code = f"""
        import os, socket
        print(os.getuid())
        try:
            open({str(grader_file)!r}, "w").write("forged")
        except OSError as e:
            print("write:", e.errno)
        try:
            socket.create_connection(("127.0.0.1", {server.getsockname()[1]}), timeout=1)
        except OSError as e:
            print("connect:", e.errno)
        print(sorted(os.listdir("/root")) if os.path.isdir("/root") else "no /root")
    """
    lines = box.run(py(code)).stdout.decode().splitlines()
    assert int(lines[0]) == box.uid != 0
    assert lines[1] == "write: 13" and grader_file.read_text() == "{}"  # EACCES
    assert lines[2].startswith("connect:")  # no network in the namespace, not even loopback
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()
    # A fork bomb meets the process limit, and nothing of it outlives the command.
    bomb = box.run(
        py("""
        import os, time
        for _ in range(1000):
            try:
                os.fork()
            except OSError:
                print("limit", flush=True)
                break
        time.sleep(60)
        """)
    )
    assert b"limit" in bomb.stdout and bomb.timed_out
    assert _processes_of(box.uid) == []


def test_channel_messages_reset_the_check_timer_and_forks_have_no_say(box):
    code = """
        import json, os, sys, time
        fd = int(sys.argv[1])
        def send(**m):
            os.write(fd, (json.dumps({"pid": os.getpid(), **m}) + "\\n").encode())
        if os.fork() == 0:
            send(event="forged")
            os._exit(0)
        for i in range(4):
            time.sleep(0.3)
            send(event="tick", i=i)
        send(event="loop")
        while True:
            time.sleep(0.05)
    """
    seen = []
    out = box.run(
        [*py(code), "{channel}"], channel=True, on_message=lambda m: seen.append(m) or "check"
    )
    assert [m["event"] for m in seen] == ["tick"] * 4 + ["loop"], out.stderr  # reset each time
    assert out.timed_out == "check" and out.death() == "timed out after 1 s"


STUB_CHILD = """
import json, os, sys
fd, plan = int(sys.argv[1]), json.loads(sys.argv[2])
def send(event, **m):
    os.write(fd, (json.dumps({"pid": os.getpid(), "event": event, **m}) + "\\n").encode())
send("ready")
for i, job in enumerate(plan["jobs"]):
    if job.get("die_loading"):
        os._exit(7)
    for name in ["a", "b", "c"]:
        if name in job["skip"]:
            continue
        send("start", job=i, name=name)
        if name == job.get("die_at"):
            os._exit(0)
        send("result", job=i, result={"name": name, "passed": True, "message": "ok"})
    send("job-done", job=i)
"""


def test_a_child_that_dies_is_restarted_for_the_rest(box):
    def argv(plan):
        return [sys.executable, "-I", "-c", STUB_CHILD, "{channel}", json.dumps(plan)]

    jobs = [{"die_at": "b"}, {"die_loading": True}, {}]
    first, second, third = runner.run_jobs(box, jobs, argv=argv)
    assert first.items["a"]["passed"] and first.items["c"]["passed"]  # after a restart
    assert first.items["b"]["died"] == "the process exited with status 0 during the check"
    assert second.failure == (
        "the process exited with status 7 while loading or constructing the class"
    )
    assert not second.items and sorted(third.items) == ["a", "b", "c"]
    # A class that kills the child in every check: the rest is marked not run.
    (always,) = runner.run_jobs(box, [{"die_at": "a"}], argv=argv, max_deaths=1)
    assert "died" in always.items["a"] and "died once" in (always.failure or "")


def test_hostile_submissions_fail_their_checks_and_the_grader_finishes(tmp_path):
    """One sandbox, one child (restarted after each death) for all eight hostile classes."""
    folder = tmp_path / "hostile"
    shutil.copytree(FIXTURES / "hostile", folder)
    result_file = tmp_path / "result.json"
    result_file.write_text("{}")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    plan = {"paths": [str(result_file)], "port": server.getsockname()[1]}
    (folder / "targets.json").write_text(json.dumps(plan))
    expected = {
        "loop_forward": "timed out after 4 s",
        "big_alloc": "memory limit of 4 GB reached",
        "exit_init": "the process exited with status 0 while loading or constructing",
        "exit_import": "importing the module called sys.exit(3)",
        "fork_bomb": "process limit of 32 reached",
        "flood_stdout": "printed more than 1 MB (the output limit)",
        "forge_results": "PermissionError",
        "connect_localhost": "OSError",
    }
    # 4 s per check: on a loaded machine (CI beside other jobs) a fork bomb of processes that
    # each hold torch needed more than 1.5 s to reach 32 processes, and timed out instead.
    limits = Limits(check_s=4.0, startup_s=60, total_s=120, processes=32, output_bytes=MB)
    with Sandbox(folder, limits) as sandbox:
        targets = [Target("mlp", f"{name}.py:MLP") for name in expected]
        reports = grade(sandbox, targets, max_deaths=1)
    for (name, reason), rep in zip(expected.items(), reports, strict=True):
        assert rep.usage is None, name
        assert rep.score == 0, (name, [c.message for c in rep.checks if c.passed])
        assert reason in rep.checks[0].message, (name, rep.checks[0].message)
    if sandbox.isolation.user:
        assert result_file.read_text() == "{}"
    if sandbox.isolation.network:
        with pytest.raises(BlockingIOError):
            server.accept()
    server.close()
