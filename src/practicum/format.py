"""How numbers, durations, commits and machines are written, the same way everywhere.

The command line, the README's lab table, ``docs/reproducibility.md`` and the report site all
format through these functions, so a number reads the same in each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def number(value: Any) -> str:
    """A metric for a person: four significant digits, ``–`` for a missing value."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def duration(seconds: Any) -> str:
    """``12.3 s``, ``4.5 min`` or ``1.2 h``; ``–`` when unknown."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return "–"
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def target(t: Mapping[str, Any]) -> str:
    """A judged target as ``metric >= value``."""
    return f"{t['metric']} {t['op']} {t['value']:g}"


def short_commit(env: Mapping[str, Any] | None) -> str:
    """The first ten hex digits of the commit in env.json, with ``+dirty`` if it was."""
    commit = (env or {}).get("git_commit")
    if not commit:
        return "–"
    sha, _, dirty = str(commit).partition("+")
    return sha[:10] + (f"+{dirty}" if dirty else "")


def accelerator(env: Mapping[str, Any] | None) -> str:
    """``' on H100'`` for a run on a GPU (from its env.json), else ``''``."""
    if not env or not str(env.get("device", "cpu")).startswith("cuda"):
        return ""
    return " on " + str(env.get("gpu", "GPU")).removeprefix("NVIDIA ").split()[0]


def wall_time(seconds: Any, env: Mapping[str, Any] | None) -> str:
    """A run's wall time with the GPU it ran on: ``36.5 min``, ``10.3 min on H100``."""
    return duration(seconds) + accelerator(env)


def seed_spread(stats: Mapping[str, Any]) -> str:
    """One metric's statistics over seeds (a seeds.json ``stats`` entry), for a person:
    ``0.9935 ± 0.0006 over 5 seeds``."""
    return f"{number(stats['mean'])} ± {number(stats['std'])} over {stats['n']} seeds"


def cpu_model(env: Mapping[str, Any] | None) -> str:
    """The CPU model of env.json without trademark signs: ``Intel Xeon``, ``AMD EPYC``."""
    cpu = str((env or {}).get("cpu") or "").strip()
    if not cpu:
        return "–"
    for mark in ("(R)", "(TM)", "(tm)", " Processor", " CPU"):
        cpu = cpu.replace(mark, "")
    return " ".join(cpu.split())


def device_text(env: Mapping[str, Any] | None) -> str:
    """``cpu``, or ``cuda on H100`` for a run on a GPU; ``–`` when not recorded."""
    device = (env or {}).get("device")
    return f"{device}{accelerator(env)}" if device else "–"


def text_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]
    return "\n".join(out)
