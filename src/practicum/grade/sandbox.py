"""Run untrusted code in a limited subprocess.

A :class:`Sandbox` holds a private copy of a submission in a temporary folder that only its
user can enter, and runs commands there with:

- resource limits (``setrlimit``): CPU time, address space, file size, processes, no core files;
- a wall-clock limit on the whole command and on the gap between two messages of its results
  channel (one check), after which the whole process group and every process of the sandbox's
  user are killed;
- a scrubbed environment whose ``HOME`` and ``TMPDIR`` are inside the private folder;
- a new network namespace (``unshare(CLONE_NEWNET)`` through libc) where the kernel allows it,
  so the command sees no network, not even 127.0.0.1 (:func:`isolation` says whether);
- when the grader runs as root, an unprivileged user of its own (a uid of
  :data:`SANDBOX_UIDS` with no account): submissions running at the same time cannot read each
  other's copies, write the grader's files, or share one process limit;
- stdout and stderr captured up to a size limit; a command that prints more is stopped.

A command may stream JSON lines to the grader over an inherited pipe (``channel=True``: its
file descriptor number is passed as ``{channel}`` in the command). Lines from any process but
the command itself (say, a child it forked) are ignored. What the sandbox does not protect
against is in docs/grading.md.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KB, MB, GB = 2**10, 2**20, 2**30
CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
# Uids for sandboxed commands when the grader is root: one per command running at once, none
# with an account (the range is checked against the password database before use).
SANDBOX_UIDS = range(64000, 64064)
SANDBOX_GID = 65534  # nogroup
ZOMBIE_WAIT_S = 3.0  # how long to wait for init to reap a killed sandbox's processes
# Files and folders that a private copy leaves out: caches and version control.
COPY_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", ".hypothesis", ".venv"
)


@dataclass(frozen=True)
class Limits:
    """What one sandboxed command may use. Times in seconds, sizes in bytes."""

    check_s: float = 10.0  # wall clock between two channel messages: one check
    tests_s: float = 60.0  # wall clock for one run of a student's tests (mutation scoring)
    startup_s: float = 60.0  # wall clock before the first channel message (imports)
    total_s: float = 600.0  # wall clock of the whole command; also its CPU-time limit
    memory_bytes: int = 4 * GB  # address space (RLIMIT_AS)
    file_bytes: int = 64 * MB  # largest file it may write (RLIMIT_FSIZE)
    processes: int = 64  # processes and threads of the sandbox's user (RLIMIT_NPROC)
    output_bytes: int = 1 * MB  # stdout and stderr together
    copy_bytes: int = 256 * MB  # the largest submission folder it copies


def size_text(n: float) -> str:
    """``4 GB``, ``1 MB``, ``512 KB``: the size a limit is said in."""
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} bytes"


# ---- the environment the command sees --------------------------------------------------
def scrubbed_env(home: Path) -> dict[str, str]:
    """A minimal environment: no secrets or settings of the grader's shell leak in."""
    bin_dir = str(Path(sys.executable).parent)  # the grader's python (the project's venv)
    return {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "USER": "student",  # getpass.getuser() needs one; the sandbox uid has no account
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",  # one intra-op thread: fair, deterministic, fits RLIMIT_NPROC
        "MKL_NUM_THREADS": "1",
        "PRACTICUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong]
_libc.mount.argtypes += [ctypes.c_char_p]
CLONE_NEWNS = 0x00020000
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 4096, 8192, 16384, 1 << 18


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), "mount")


def _hidden_ancestors() -> dict[Path, list[str]]:
    """Folders on the way to the interpreter and this package that other users cannot enter
    (``/root`` when Python lives in ``/root/.pyenv``), each with the entries inside it that the
    sandbox needs. In the sandbox such a folder becomes an empty tmpfs with only those entries
    bound back in: the interpreter runs, and the rest of the folder stays out of sight."""
    import practicum

    needed = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.executable).parent}
    needed.add(Path(practicum.__file__).parent.parent)
    out: dict[Path, list[str]] = {}
    for path in sorted(p.resolve() for p in needed):
        parts = path.parts
        for i in range(1, len(parts) - 1):
            folder = Path(*parts[: i + 1])
            if not os.stat(folder).st_mode & 0o001:
                out.setdefault(folder, [])
                if parts[i + 1] not in out[folder]:
                    out[folder].append(parts[i + 1])
                break
    return out


@dataclass(frozen=True)
class Isolation:
    """What the sandbox manages to do on this machine (see :func:`isolation`)."""

    network: bool  # a network namespace of its own
    user: bool  # an unprivileged uid of its own (only possible for a root grader)

    def notes(self) -> list[str]:
        """What is missing, in the words a report uses."""
        out = []
        if not self.network:
            out.append("network not isolated (this machine refused a network namespace)")
        if not self.user:
            who = "as root" if os.geteuid() == 0 else "as the grader's own user"
            out.append(f"not run as a separate unprivileged user (ran {who})")
        return out


def _setup(
    network: bool, uid: int | None, stage: Path | None, hidden: dict[Path, list[str]]
) -> None:
    """Namespaces, mounts and the user switch; runs in the forked child, before exec."""
    root = os.geteuid() == 0
    hidden = hidden if (root and uid is not None) else {}
    flags = CLONE_NEWNET if network else 0
    if hidden:
        flags |= CLONE_NEWNS
    if not root and flags:
        flags |= CLONE_NEWUSER  # anyone else needs a user namespace around the others
    if flags:
        _check(_libc.unshare(flags), "unshare")
    if hidden:
        assert stage is not None
        _mount("none", "/", None, MS_REC | MS_PRIVATE, None)  # nothing leaks to the host
        for n, (folder, entries) in enumerate(hidden.items()):
            staged = []
            for k, entry in enumerate(entries):
                spot = stage / f"{n}-{k}"
                spot.mkdir(exist_ok=True)
                _mount(str(folder / entry), str(spot), None, MS_BIND | MS_REC, None)
                staged.append((spot, entry))
            _mount("tmpfs", str(folder), "tmpfs", 0, "mode=0755,size=64k")
            for spot, entry in staged:
                (folder / entry).mkdir()
                _mount(str(spot), str(folder / entry), None, MS_MOVE, None)
    if uid is not None:
        os.setgroups([])
        os.setresgid(SANDBOX_GID, SANDBOX_GID, SANDBOX_GID)
        os.setresuid(uid, uid, uid)


_isolation: Isolation | None = None


def isolation() -> Isolation:
    """What this machine allows, found once by starting Python in a throwaway sandbox:
    a network namespace, and (as root) a uid of its own that can still run the interpreter."""
    global _isolation
    if _isolation is None:
        root = os.geteuid() == 0
        hidden = _hidden_ancestors()
        options = [(True, True), (False, True), (True, False), (False, False)]
        for network, user in options if root else options[2:]:
            uid = _UIDS.take() if user else None
            stage = Path(tempfile.mkdtemp(prefix="practicum-probe-"))
            try:
                done = subprocess.run(
                    [sys.executable, "-I", "-c", "import practicum.grade"],
                    cwd="/",
                    preexec_fn=lambda n=network, u=uid, s=stage, h=hidden: _setup(n, u, s, h),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                )
            except (OSError, subprocess.SubprocessError):  # the set-up failed in the child
                continue
            finally:
                if uid is not None:
                    _UIDS.give(uid)
                shutil.rmtree(stage, ignore_errors=True)
            if done.returncode == 0:
                _isolation = Isolation(network=network, user=user)
                break
        else:
            _isolation = Isolation(network=False, user=False)
    return _isolation


# ---- users --------------------------------------------------------------------------
class _UidPool:
    """Hands out the sandbox uids to the commands running at one time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: list[int] | None = None

    def _candidates(self) -> list[int]:
        import pwd

        taken = {p.pw_uid for p in pwd.getpwall()}
        return [uid for uid in SANDBOX_UIDS if uid not in taken]

    def take(self) -> int:
        with self._lock:
            if self._free is None:
                self._free = self._candidates()
            if not self._free:
                raise RuntimeError(f"all {len(SANDBOX_UIDS)} sandbox uids are in use")
            return self._free.pop(0)

    def give(self, uid: int) -> None:
        with self._lock:
            assert self._free is not None
            self._free.insert(0, uid)


_UIDS = _UidPool()


def _processes_of(uid: int, zombies: bool = False) -> list[int]:
    """The live processes of ``uid`` (and, with ``zombies``, the dead ones not yet reaped)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    stat = Path(entry.path, "stat").read_text()
                    if zombies or stat.rpartition(")")[2].split()[0] != "Z":
                        pids.append(int(entry.name))
    return pids


def kill_user(uid: int) -> None:
    """Kill every process of ``uid`` (a fork bomb's children too, wherever they went), then
    wait a little for them to be reaped: until then they count against the process limit of
    the next command that runs as ``uid``."""
    for _ in range(20):
        if not _processes_of(uid):
            break
        # kill(-1) from a process of that uid reaches exactly that uid's processes.
        subprocess.run(
            ["kill", "-KILL", "-1"],
            user=uid,
            group=SANDBOX_GID,
            extra_groups=[],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        time.sleep(0.01)
    deadline = time.monotonic() + ZOMBIE_WAIT_S
    while _processes_of(uid, zombies=True) and time.monotonic() < deadline:
        time.sleep(0.05)


# ---- what a run gives back -------------------------------------------------------------
@dataclass
class Outcome:
    """How a sandboxed command ended, what it printed and what it sent on its channel."""

    returncode: int | None
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: str | None = None  # "check", "tests", "startup" or "total"
    timeout_s: float = 0.0
    output_exceeded: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)
    cpu_limit_s: float = 0.0
    file_limit: int = 0
    output_limit: int = 0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.output_exceeded

    def death(self) -> str:
        """One line: why the command ended (or stopped being waited for)."""
        if self.timed_out:
            return f"timed out after {self.timeout_s:g} s"
        if self.output_exceeded:
            return f"printed more than {size_text(self.output_limit)} (the output limit)"
        rc = self.returncode
        if rc is None:
            return "did not end"
        if rc >= 0:
            return f"the process exited with status {rc}"
        sig = -rc
        if sig == signal.SIGXCPU:
            return f"CPU-time limit of {self.cpu_limit_s:g} s reached"
        if sig == signal.SIGXFSZ:
            return f"file size limit of {size_text(self.file_limit)} reached"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"the process was killed by {name}"


# ---- the sandbox -------------------------------------------------------------------
def private_copy(source: Path, dest: Path, max_bytes: int) -> None:
    """Copy the folder ``source`` to ``dest`` (links stay links: nothing is read through
    them with the grader's rights), leaving out :data:`COPY_IGNORE`; PracticumError for a
    folder that holds the temporary folder or is larger than ``max_bytes``."""
    from practicum.errors import PracticumError

    source = source.resolve()
    if Path(tempfile.gettempdir()).resolve().is_relative_to(source):
        raise PracticumError(
            f"cannot grade {source}: it holds the temporary folder; point at the submission"
        )
    total = 0
    for folder, dirs, files in os.walk(source):
        ignored = COPY_IGNORE(folder, dirs + files)
        dirs[:] = [d for d in dirs if d not in ignored]
        for name in files:
            if name not in ignored:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(folder, name)).st_size
        if total > max_bytes:
            raise PracticumError(
                f"{source} is larger than {size_text(max_bytes)}: point at the submission"
            )
    shutil.copytree(source, dest, symlinks=True, ignore=COPY_IGNORE)


class Sandbox:
    """A private copy of ``source`` (a folder) to run commands in; a context manager.

    ``network`` is False where the machine refused a network namespace: commands then see
    the host's network, and reports say "network not isolated".
    """

    def __init__(self, source: str | Path, limits: Limits | None = None) -> None:
        self.source = Path(source)
        self.limits = limits or Limits()
        self.root: Path | None = None
        self.uid: int | None = None
        self.isolation = isolation()
        self._hidden = _hidden_ancestors() if self.isolation.user else {}

    @property
    def workdir(self) -> Path:
        assert self.root is not None, "use the sandbox inside `with`"
        return self.root / "work"

    @property
    def home(self) -> Path:
        assert self.root is not None, "use the sandbox inside `with`"
        return self.root / "home"

    def __enter__(self) -> Sandbox:
        self.root = Path(tempfile.mkdtemp(prefix="practicum-grade-"))  # mode 0700
        try:
            private_copy(self.source, self.workdir, self.limits.copy_bytes)
            (self.home / "tmp").mkdir(parents=True)
            (self.root / "mnt").mkdir()
            if self.isolation.user:
                self.uid = _UIDS.take()
                for path in [self.root, *self.root.rglob("*")]:
                    os.chown(path, self.uid, SANDBOX_GID, follow_symlinks=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.uid is not None:
            kill_user(self.uid)
            _UIDS.give(self.uid)
            self.uid = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _preexec(self) -> Callable[[], None]:
        limits, uid, network = self.limits, self.uid, self.isolation.network
        stage, hidden = self.root / "mnt" if self.root else None, self._hidden
        cpu = int(limits.total_s) + 1

        def setup() -> None:  # runs in the forked child, before exec
            os.setpgid(0, 0)  # its own process group: the timeout kills all of it
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if uid is not None:  # counts this uid's processes only: the sandbox's own
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
            _setup(network, uid, stage, hidden)

        return setup

    def run(
        self,
        argv: Sequence[str],
        *,
        channel: bool = False,
        on_message: Callable[[dict[str, Any]], str | None] | None = None,
    ) -> Outcome:
        """Run ``argv`` in the private copy and wait for it within the limits.

        With ``channel``, ``{channel}`` in ``argv`` is replaced by the write end of a pipe on
        which the command sends JSON lines; each line from the command's own process goes to
        ``on_message``, which returns the timeout that applies until the next one: ``"check"``
        (the default), ``"tests"``, or ``"startup"``. Before the first message
        ``startup_s`` applies.
        """
        limits = self.limits
        read_fd = write_fd = -1
        fds: tuple[int, ...] = ()
        if channel:
            read_fd, write_fd = os.pipe()
            fds = (write_fd,)
            argv = [a.replace("{channel}", str(write_fd)) for a in argv]
        outcome = Outcome(
            returncode=None,
            cpu_limit_s=int(limits.total_s) + 1,
            file_limit=limits.file_bytes,
            output_limit=limits.output_bytes,
        )
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=self.workdir,
                env=scrubbed_env(self.home),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=fds,
                preexec_fn=self._preexec(),
            )
        finally:
            if write_fd >= 0:
                os.close(write_fd)
        try:
            self._wait(proc, read_fd, outcome, on_message)
        finally:
            self._kill(proc)
            if read_fd >= 0:
                os.close(read_fd)
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.close()
            proc.stderr.close()
        return outcome

    def _kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        if self.uid is not None:
            kill_user(self.uid)

    def _wait(
        self,
        proc: subprocess.Popen[bytes],
        read_fd: int,
        outcome: Outcome,
        on_message: Callable[[dict[str, Any]], str | None] | None,
    ) -> None:
        limits = self.limits
        timeouts = {"check": limits.check_s, "tests": limits.tests_s, "startup": limits.startup_s}
        start = time.monotonic()
        total_end = start + limits.total_s
        phase = "startup"
        # Without a channel there are no checks to time: only the total limit applies.
        phase_end = start + limits.startup_s if read_fd >= 0 else total_end
        assert proc.stdout is not None and proc.stderr is not None
        sel = selectors.DefaultSelector()
        streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        for fd in streams:
            sel.register(fd, selectors.EVENT_READ)
        if read_fd >= 0:
            sel.register(read_fd, selectors.EVENT_READ)
        captured = {"stdout": bytearray(), "stderr": bytearray()}
        printed = 0
        pending = b""
        exited_at: float | None = None
        while sel.get_map():
            now = time.monotonic()
            if proc.poll() is not None:
                # The command ended; what it left in the pipes is read, but a process it
                # left behind holding them open is not waited for.
                exited_at = exited_at or now
                if now - exited_at > 0.2:
                    break
            elif now >= total_end or now >= phase_end:
                outcome.timed_out = "total" if now >= total_end else phase
                outcome.timeout_s = limits.total_s if now >= total_end else timeouts[phase]
                break
            for key, _ in sel.select(timeout=0.05):
                fd = key.fd
                data = os.read(fd, 65536)
                if not data:
                    sel.unregister(fd)
                    continue
                if fd == read_fd:
                    pending += data
                    printed += len(data)  # a flood on the channel counts as output too
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        message = _parse(line, proc.pid)
                        if message is None:
                            continue
                        outcome.messages.append(message)
                        phase = (on_message(message) if on_message else None) or "check"
                        phase_end = time.monotonic() + timeouts[phase]
                else:
                    printed += len(data)
                    buf = captured[streams[fd]]
                    buf += data[: max(0, limits.output_bytes - len(buf))]
                if printed > limits.output_bytes:
                    outcome.output_exceeded = True
                    break
            if outcome.output_exceeded:
                break
        sel.close()
        self._kill(proc)
        outcome.returncode = proc.returncode
        outcome.stdout, outcome.stderr = bytes(captured["stdout"]), bytes(captured["stderr"])


def _parse(line: bytes, pid: int) -> dict[str, Any] | None:
    """A channel line as a dict, if it is JSON from process ``pid``; anything else is dropped."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("pid") != pid:
        return None
    return message


@contextlib.contextmanager
def sandbox(source: str | Path, limits: Limits | None = None) -> Iterator[Sandbox]:
    """``with sandbox(folder) as box: box.run([...])``."""
    with Sandbox(source, limits) as box:
        yield box
