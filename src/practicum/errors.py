"""The exceptions that the command line turns into one line: bad input, and Ctrl-C in a run."""

from __future__ import annotations

from pathlib import Path


class PracticumError(Exception):
    """A problem the user can fix (bad input, missing data, a diverged run).

    The CLI prints ``practicum: error: <message>`` on one line and exits with status 2,
    never a traceback. Raise it with a message that says what is wrong and what to do.
    """


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run, with the run folder it leaves unfinished.

    A KeyboardInterrupt still (whoever catches that catches this); the CLI prints
    ``practicum: interrupted: <message>`` on one line and exits with status 130.
    """

    def __init__(self, run_dir: str | Path, message: str = "") -> None:
        self.run_dir = Path(run_dir)
        self.message = message or f"the unfinished run is in {self.run_dir}"
        super().__init__(self.message)
