"""Calling the command line in process, for the tests of what it prints and returns."""

from __future__ import annotations

from practicum.cli import main


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``practicum ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own exits
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *needles: str) -> str:
    """The single line of an error message, which names every needle and is no traceback or
    warning."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Warning" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
