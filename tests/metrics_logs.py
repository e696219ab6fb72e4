"""Comparing the metrics logs of two runs, for the tests that need "the same log"."""

from __future__ import annotations

import json
import re
from pathlib import Path

# Wall-clock readings that labs log (time_s, train_seconds, images_per_second, ...) differ
# between any two runs.
CLOCK = re.compile(r"(^|_)(time|seconds|elapsed)(_s)?$|_per_second$")


def metrics_without_clocks(path: Path) -> list[dict]:
    """The lines of a metrics log, without the keys that hold wall-clock times."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in line.items() if not CLOCK.search(k)} for line in lines]
