"""One training step of an MLP 784-256-256-10: practicum.autodiff vs PyTorch on the CPU.

A step is forward, cross-entropy, backward and an Adam update on a float32 batch of 128.
Both engines get the same weights, the same batches and the same number of threads (NumPy's
BLAS is limited with threadpoolctl, torch with ``set_num_threads``). We report the median
over repeated steps after a warm-up, and the ratio engine / torch measured in this run.

    .venv/bin/python benchmarks/autodiff_vs_torch.py [--threads 1 2] [--steps 200]
    .venv/bin/python benchmarks/autodiff_vs_torch.py --profile   # where the engine's time goes
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from practicum import autodiff as ad
from practicum.autodiff.nn import MLP
from practicum.autodiff.optim import Adam
from practicum.io import atomic_write_json
from practicum.repro import cpu_name

SIZES = (784, 256, 256, 10)
BATCH = 128
RESULT = Path(__file__).parent / "results" / "autodiff_vs_torch.json"


def make_data(n_batches: int, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (
            rng.standard_normal((BATCH, SIZES[0])).astype(np.float32),
            rng.integers(0, SIZES[-1], size=BATCH),
        )
        for _ in range(n_batches)
    ]


def engine_steps(model: MLP, batches: list, warmup: int) -> list[float]:
    opt = Adam(model.parameters(), lr=1e-3)
    times = []
    for i, (x, y) in enumerate(batches):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = ad.cross_entropy(model(ad.Tensor(x)), y)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def torch_model(model: MLP) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for i, layer in enumerate(model.layers):
        linear = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.weight.data.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.bias.data))
        layers.append(linear)
        if i < len(model.layers) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_steps(model: torch.nn.Module, batches: list, warmup: int) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    times = []
    for i, (x, y) in enumerate(data):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def measure(threads: int, batches: list, args: argparse.Namespace) -> dict:
    """Median step times of both engines with ``threads`` threads each."""
    torch.set_num_threads(threads)
    model = MLP(SIZES, np.random.default_rng(1))
    engine_times: list[float] = []
    torch_times: list[float] = []
    with threadpool_limits(limits=threads, user_api="blas"):
        # Alternate the two engines so that a busy machine slows both alike.
        for _ in range(args.rounds):
            engine_times += engine_steps(MLP(SIZES, np.random.default_rng(1)), batches, args.warmup)
            torch_times += torch_steps(torch_model(model), batches, args.warmup)
    engine_ms = statistics.median(engine_times) * 1e3
    torch_ms = statistics.median(torch_times) * 1e3
    return {
        "practicum.autodiff": {"median_ms": round(engine_ms, 4), "steps": len(engine_times)},
        "torch": {"median_ms": round(torch_ms, 4), "steps": len(torch_times)},
        "ratio": round(engine_ms / torch_ms, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts; the first is headline",
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternate engines this many times")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the engine")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()

    batches = make_data(args.steps + args.warmup, np.random.default_rng(0))
    if args.profile:
        with threadpool_limits(limits=args.threads[0], user_api="blas"):
            profiler = cProfile.Profile()
            profiler.enable()
            engine_steps(MLP(SIZES, np.random.default_rng(1)), batches, args.warmup)
            profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
        return

    load_before = os.getloadavg()[0]
    results = {f"threads={t}": measure(t, batches, args) for t in args.threads}
    headline = results[f"threads={args.threads[0]}"]
    result = {
        "benchmark": "one training step (forward, cross-entropy, backward, Adam) of an MLP "
        f"{'-'.join(map(str, SIZES))} on float32 batches of {BATCH}, CPU",
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "results": results,
        "ratio": headline["ratio"],
        "ratio_meaning": "median step time of practicum.autodiff / median step time of PyTorch, "
        f"both with {args.threads[0]} thread(s), measured in the same run (lower is better); "
        "results holds the same for every thread count measured",
        "goal": {"ratio": "<= 1.5", "met": bool(headline["ratio"] <= 1.5)},
    }
    atomic_write_json(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
