"""Wall time to first reach 99.0% MNIST test accuracy: mnist-cnn against a reference.

The reference is the network and optimiser of the official PyTorch MNIST example (two 3x3
convolutions of 32 and 64 channels, max-pool, dropout, a 128-unit layer; Adadelta with
lr 1.0 decayed by 0.7 an epoch; batch 64), written out below. Both train in this process
on the same 50,000 training images with the same thread count and are evaluated on the
10,000 test images at the same intervals (every quarter epoch); the clock counts training
steps only, not the evaluations. The test set is used here to time a threshold, never to
choose anything in the lab.

    PRACTICUM_DATA=/path/to/datasets python benchmarks/mnist_speed.py [--threads N]

Writes benchmarks/results/mnist_speed.json; ratio = baseline seconds / ours.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from practicum.io import atomic_write_json
from practicum.recipes import image_classifier
from practicum.repro import cpu_name, seed_everything

THRESHOLD = 0.99
EVALS_PER_EPOCH = 4
RESULTS = Path(__file__).resolve().parent / "results" / "mnist_speed.json"


class ReferenceNet(nn.Module):
    """The network of the official PyTorch MNIST example."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def train_reference(
    data: image_classifier.Data, max_epochs: int, seed: int
) -> tuple[float | None, list[dict[str, float]]]:
    torch.manual_seed(seed)
    model = ReferenceNet()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    generator = torch.Generator().manual_seed(seed)
    n, batch = len(data.x_train), 64
    steps_per_epoch = -(-n // batch)  # the example keeps the last, smaller batch
    evals = {round(steps_per_epoch * (k + 1) / EVALS_PER_EPOCH) for k in range(EVALS_PER_EPOCH)}
    seconds, curve = 0.0, []
    for epoch in range(max_epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for step in range(steps_per_epoch):
            start = time.perf_counter()
            idx = order[step * batch : (step + 1) * batch]
            loss = F.nll_loss(model(data.x_train[idx]), data.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds += time.perf_counter() - start
            if step + 1 in evals:
                acc = image_classifier.accuracy(model, data.x_test, data.y_test)
                curve.append(
                    {
                        "epoch": epoch + (step + 1) / steps_per_epoch,
                        "seconds": seconds,
                        "test_accuracy": acc,
                    }
                )
                print(
                    f"  reference epoch {curve[-1]['epoch']:.2f}: {acc:.4f} after {seconds:.1f} s",
                    flush=True,
                )
                if acc >= THRESHOLD:
                    return seconds, curve
        schedule.step()
    return None, curve


def train_ours(
    data: image_classifier.Data, config: image_classifier.Config, seed: int
) -> tuple[float | None, list[dict[str, float]]]:
    torch.manual_seed(seed)
    model = image_classifier.build_model(config)
    generator = torch.Generator().manual_seed(seed)
    curve: list[dict[str, float]] = []

    def on_eval(epoch: float, seconds: float) -> bool:
        acc = image_classifier.accuracy(model, data.x_test, data.y_test)
        curve.append({"epoch": epoch, "seconds": seconds, "test_accuracy": acc})
        print(f"  mnist-cnn epoch {epoch:.2f}: {acc:.4f} after {seconds:.1f} s", flush=True)
        return acc >= THRESHOLD

    image_classifier.train(model, config, data.x_train, data.y_train, generator, on_eval)
    reached = [c["seconds"] for c in curve if c["test_accuracy"] >= THRESHOLD]
    return (reached[0] if reached else None), curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-epochs", type=int, default=5, help="for the reference")
    parser.add_argument(
        "--epochs", type=int, default=1, help="length of mnist-cnn's one-cycle schedule"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--note",
        default="both timed in this process, one after the other",
        help="what else ran on the machine (recorded in the JSON)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    # The lab's network with a recipe for reaching 99.0% soon rather than 99.3% at the end
    # (the lab runs 8 epochs): a one-epoch one-cycle schedule with twice the peak LR, lighter
    # regularisation (dropout 0.1, translations by 1 pixel), and the channels-last memory
    # layout (off in the lab so its recorded results stay bit-reproducible). Chosen on the
    # validation split (docs/labs/mnist-cnn.md lists the sweep), not on the test set.
    config = image_classifier.Config(
        epochs=args.epochs,
        learning_rate=0.02,
        dropout=0.1,
        crop_padding=1,
        evals_per_epoch=EVALS_PER_EPOCH,
        channels_last=True,
    )
    data = image_classifier.load_data(replace(config, channels_last=False), args.seed)
    print(f"mnist-cnn ({config.epochs}-epoch schedule, {args.threads} threads)", flush=True)
    data_cl = image_classifier.load_data(config, args.seed)  # channels-last copies for ours
    ours, ours_curve = train_ours(data_cl, config, args.seed)
    del data_cl
    print("reference (PyTorch MNIST example network, Adadelta)", flush=True)
    ref, ref_curve = train_reference(data, args.max_epochs, args.seed)
    ratio = ref / ours if ours and ref else None
    result = {
        "benchmark": "seconds of training to first reach 99.0% MNIST test accuracy",
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "threads": args.threads,
            "platform": platform.platform(),
            "note": args.note,
            "load_average_at_end": os.getloadavg(),
        },
        "versions": {
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "results": {
            "mnist-cnn": {"seconds": ours, "config": vars(config), "curve": ours_curve},
            "reference": {
                "seconds": ref,
                "description": "PyTorch MNIST example: conv32-conv64-maxpool-dropout-fc128-dropout, Adadelta lr 1.0, StepLR 0.7, batch 64",
                "curve": ref_curve,
            },
            "evaluations_per_epoch": EVALS_PER_EPOCH,
            "train_images": len(data.x_train),
        },
        "ratio": ratio,
        "ratio_meaning": "reference seconds / mnist-cnn seconds to first reach 99.0% test accuracy (higher is better)",
        "goal": {"target": 10.0, "miss_below": 5.0, "met": bool(ratio and ratio >= 10.0)},
    }
    atomic_write_json(args.out, result)
    print(f"ratio {ratio}: written to {args.out}")


if __name__ == "__main__":
    main()
