"""Training throughput of cifar10-resnet, and the wall time and accuracy of a full run.

Measures images per second of the lab's training step (forward, backward, SGD step and the
whole-batch augmentation) on CIFAR-sized inputs after a few warm-up steps, for three
variants in the same run: the baseline (our written-out ``GroupNorm``, default memory
layout), the fused ``GroupNorm`` (``F.group_norm``), and the lab's default (fused and
channels-last). The ratio is default / baseline. Also timed in the same run: the network of
run K (128/256/512, every stage pooling, no whitening or weight standardisation; the
defaults before run P), run O's (K's with whitening and weight standardisation), an older
default (48/96/192, pooling after the residual blocks), the CPU budget recipe (64/128/256,
pooling first), and the default network through ``torch.compile``. With ``--run RUN_DIR``
(a finished full run of the lab; repeatable) it also reports that run's wall time,
accuracy, data source and device.

    python benchmarks/cifar10_speed.py [--steps 20] [--threads N] [--run runs/cifar10-resnet-full]

Writes benchmarks/results/cifar10_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from practicum.data import augment
from practicum.data.vision import ImageData
from practicum.io import atomic_write_json
from practicum.recipes import cifar_resnet
from practicum.repro import cpu_name

RESULTS = Path(__file__).resolve().parent / "results" / "cifar10_speed.json"


def images_per_second(
    config: cifar_resnet.Config, steps: int, warmup: int = 3, compile_model: bool = False
) -> float:
    """Training throughput on random CIFAR-shaped images (speed does not depend on content).
    With ``compile_model`` the model goes through ``torch.compile`` (compiled during the
    untimed warm-up steps)."""
    g = torch.Generator().manual_seed(0)
    n = config.batch_size * 4
    x = torch.randint(0, 256, (n, 32, 32, 3), dtype=torch.uint8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    images = ImageData(x, y, x[:10], y[:10], tuple(map(str, range(10))), "random")
    data = cifar_resnet.prepare(images, replace(config, val_size=0), 0, "cpu")
    fit = data.x_train[:1000] if config.whiten else None  # the whitening's statistics
    model = cifar_resnet.build_model(config, 10, fit)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    if compile_model:
        model = torch.compile(model)
    elapsed, counted = 0.0, 0
    for step in range(warmup + steps):
        idx = torch.randint(0, len(data.x_train), (config.batch_size,), generator=g)
        start = time.perf_counter()
        xb = augment(data.x_train[idx], g, config.crop_padding, config.flip, config.cutout)
        loss = F.cross_entropy(model(xb), data.y_train[idx], label_smoothing=config.label_smoothing)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step >= warmup:
            elapsed += time.perf_counter() - start
            counted += config.batch_size
    return counted / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--run", type=Path, action="append", default=[], help="a finished full run folder"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = cifar_resnet.Config()
    # The earlier networks, without the options that run P made defaults.
    plain = replace(config, pool=(), whiten=False, standardize_weights=False)
    run_k = replace(plain, layer_depths=(128, 256, 512))
    variants = {
        "baseline_written_out_groupnorm": replace(config, fused_norm=False, channels_last=False),
        "fused_groupnorm": replace(config, fused_norm=True, channels_last=False),
        "lab_default_fused_channels_last": config,
        "run_K_network_128_256_512": run_k,
        # 2x2 patches without padding: maps of 31/15/7/3 pixels instead of 32/16/8/4
        "run_O_network_whitened_standardized": replace(
            run_k, whiten=True, standardize_weights=True
        ),
        "old_default_48_96_192_pool_last": replace(
            plain, layer_depths=(48, 96, 192), pool_first=False
        ),
        "cpu_budget_64_128_256_pool_first": replace(plain, layer_depths=(64, 128, 256)),
    }
    throughput = {}
    for key, c in variants.items():
        throughput[key] = images_per_second(c, args.steps, args.warmup)
        print(f"{key}: {throughput[key]:.1f} img/s", flush=True)
    # The issue asks whether torch.compile helps on CPU: the default network, compiled.
    key = "lab_default_torch_compile"
    throughput[key] = images_per_second(config, args.steps, args.warmup, compile_model=True)
    print(f"{key}: {throughput[key]:.1f} img/s", flush=True)
    best = throughput["lab_default_fused_channels_last"]
    epoch_images = 50_000 - config.val_size
    full_runs = []
    for run_dir in args.run:
        summary = json.loads((run_dir / "summary.json").read_text())
        log = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
        env = json.loads((run_dir / "env.json").read_text())
        config_used = json.loads((run_dir / "config.json").read_text())["config"]
        full_runs.append(
            {
                "run_dir": str(run_dir),
                "device": env.get("gpu", env["cpu"]),  # env.json names a GPU only on one
                "threads": env["num_threads"],
                "layer_depths": config_used["layer_depths"],
                "pool": config_used.get("pool", []),
                "whiten": config_used.get("whiten", False),
                "standardize_weights": config_used.get("standardize_weights", False),
                "epochs": config_used["epochs"],
                "wall_time_s": summary["wall_time_s"],  # all processes, if it was resumed
                # training time summed over epochs: survives a resume even in runs made
                # before checkpoints carried the elapsed time
                "train_seconds": next(
                    (e["train_seconds"] for e in reversed(log) if "train_seconds" in e), None
                ),
                "test_accuracy": summary["metrics"]["test_accuracy"],
                "data_source": next((e["data_source"] for e in log if "data_source" in e), None),
                "quick": summary["quick"],
            }
        )
    result = {
        "benchmark": "cifar10-resnet training throughput (images/second) and full-run wall time",
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg()[0],
        },
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "results": {
            "train_images_per_second": throughput,
            "batch_size": config.batch_size,
            "layer_depths": list(config.layer_depths),
            "measured_steps": args.steps,
            "estimated_epoch_seconds": epoch_images / best,
            "estimated_full_run_seconds": config.epochs * epoch_images / best,
            "full_runs": full_runs,
        },
        "ratio": best / throughput["baseline_written_out_groupnorm"],
        "ratio_meaning": "training images/s of the lab's default (fused GroupNorm, channels-last)"
        " over the written-out GroupNorm in the default layout, same run, same threads",
        "goal": ">= 92% test accuracy on the JPEG copy (issue #4); a full run on these 2 cores in"
        " about an hour",
    }
    atomic_write_json(args.out, result)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
