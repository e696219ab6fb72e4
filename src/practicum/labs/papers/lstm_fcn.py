"""LSTM-FCN (Karim et al. 2018) and MLSTM-FCN (Karim et al. 2019) on UCR/UEA archives, with
the FCN (Wang et al. 2017) as the baseline.

Claim: a dimension-shuffled LSTM beside a fully convolutional network (FCN) classifies the
UCR univariate archives as well as or better than the FCN alone (LSTM-FCN, Karim et al.
2018, Table 2: GunPoint 100%, ItalyPowerDemand 96.2%, ArrowHead 89.7%, OSULeaf 98.3%), and
with squeeze-and-excitation in the convolutional block it classifies multivariate series
(MLSTM-FCN, Karim et al. 2019).

Data: the published train/test splits of GunPoint, ItalyPowerDemand, ArrowHead, OSULeaf
(univariate) and JapaneseVowels, BasicMotions (multivariate) as the aeon wheel bundles them
(:mod:`practicum.data.timeseries`: checksummed, z-normalised per series as UCR does;
multivariate channels standardised with the training split's statistics, variable-length
series zero-padded at the end).

Models (:mod:`practicum.nn.timeseries`): FCN = three conv blocks (128-256-128 filters,
kernels 8/5/3, batch norm, ReLU) and global average pooling; LSTM-FCN adds an LSTM on the
dimension-shuffled input (one time step of N variables for a univariate series) with
dropout 0.8; MLSTM-FCN adds squeeze-and-excitation (reduction 16) after the first two
blocks. Softmax over the concatenated features.

Training as the paper: Adam (lr 1e-3), cross-entropy, learning rate times 1/∛2 when the
training loss plateaus (down to 1e-4), the weights of the epoch with the lowest training
loss kept (the authors' checkpointing). Scaled to the CPU: 80 epochs instead of 2,000, in
batches of 16 instead of 128, and at least ``min_steps`` optimiser steps, so that the small
sets (3-5 batches an epoch) are not stopped half-trained.

Model selection: the paper picks the LSTM's cell count (8, 64 or 128) by test accuracy. We
pick it by accuracy on a stratified validation split carved from the training split (ties:
lower validation loss, then fewer cells), then retrain the chosen model on the whole
training split (``selection=retrain``; ``keep`` keeps the model trained on the smaller
split instead). The test split is used once, for the reported accuracies.

Resuming: each training (one dataset, model and cell count) is an iteration of ``run.loop``;
every one is seeded from the run's seed and its index, so a resumed run ends with the same
bits.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from practicum.data.batching import batch_indices, train_val_split
from practicum.data.timeseries import (
    ARCHIVE_FILES,
    Archive,
    SeriesSet,
    channel_statistics,
    generated_archive,
    load_archive,
    standardise_channels,
    znormalise_series,
)
from practicum.errors import PracticumError
from practicum.lab import Lab, Target, bounded
from practicum.nn.timeseries import LSTMFCN
from practicum.plotting import figure
from practicum.repro import sub_seed
from practicum.run import Run

# Karim et al. 2018, Table 2 (LSTM-FCN test accuracy, the authors' results file
# Results/train_loss_old_datasets.csv in github.com/titu1994/LSTM-FCN gives the same digits).
PAPER_LSTM_FCN = {
    "GunPoint": 1.0,
    "ItalyPowerDemand": 0.9621,
    "ArrowHead": 0.89714,
    "OSULeaf": 0.98347,
}
# The FCN's published accuracy, as tabulated beside LSTM-FCN by Karim et al. 2018 (Wang et
# al. 2017's FCN errors: GunPoint 0.000, ItalyPowerDemand 0.030, OSULeaf 0.012).
PAPER_FCN = {"GunPoint": 1.0, "ItalyPowerDemand": 0.970, "ArrowHead": 0.880, "OSULeaf": 0.988}
# Karim et al. 2019 (MLSTM-FCN) on the UEA sets; the threshold we hold it to is 97%.
PAPER_MLSTM_FCN = {"JapaneseVowels": 1.0, "BasicMotions": 1.0}

ModelKind = Literal["fcn", "lstm-fcn", "mlstm-fcn"]


# ---- config ------------------------------------------------------------------------------
@dataclass
class Config:
    data: Literal["archives", "generated"] = "archives"  # generated: quick runs and tests
    univariate: tuple[str, ...] = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "OSULeaf")
    multivariate: tuple[str, ...] = ("JapaneseVowels", "BasicMotions")
    # Multivariate channels: "dataset" standardises each with the training split's mean and
    # std (amplitude separates BasicMotions' classes); "series" z-normalises every case.
    multivariate_normalisation: Literal["dataset", "series"] = "dataset"
    filters: tuple[int, ...] = bounded((128, 256, 128), "[1, 4096]")  # the FCN's blocks
    kernels: tuple[int, ...] = bounded((8, 5, 3), "[1, 64]")
    cells: tuple[int, ...] = bounded((8, 64, 128), "[1, 1024]")  # LSTM sizes to choose from
    dropout: float = bounded(0.8, "[0, 1)")  # after the LSTM (the paper's rate)
    reduction: int = bounded(16, "[1, 1024]")  # squeeze-and-excitation bottleneck
    epochs: int = bounded(80, "[1, 10000]")  # the reported models; the paper: 2000
    select_epochs: int = bounded(40, "[1, 10000]")  # each candidate cell count, on validation
    # At least this many optimiser steps per reported model (a candidate: in proportion to
    # its epochs), so that the small sets, with 3-5 batches an epoch, do not stop half-trained.
    min_steps: int = bounded(800, "[0, 1e7]")
    batch_size: int = bounded(16, "[1, 4096]")  # the paper: 128 (more steps per epoch here)
    learning_rate: float = bounded(1e-3, "(0, 1]")
    lr_factor: float = bounded(2 ** (-1 / 3), "(0, 1)")  # 1/∛2 on a plateau
    lr_patience: int = bounded(10, "[1, 10000]")  # epochs; the paper: 100 of 2000
    min_learning_rate: float = bounded(1e-4, "[0, 1]")
    val_fraction: float = bounded(0.2, "(0, 0.5]")  # carved from the training split
    selection: Literal["retrain", "keep"] = "retrain"
    lstm_fcn_on_multivariate: bool = False  # also LSTM-FCN without squeeze-and-excitation
    # generated data (quick): size of each generated set
    generated_train: int = bounded(60, "[6, 100000]")
    generated_test: int = bounded(90, "[3, 100000]")
    generated_length: int = bounded(48, "[8, 100000]")

    def validate(self) -> None:
        if len(self.filters) != len(self.kernels) or not self.filters:
            raise PracticumError(
                f"filters ({len(self.filters)}) and kernels ({len(self.kernels)}) must pair up"
            )
        if not self.cells:
            raise PracticumError("cells needs at least one LSTM size to choose from")
        if self.data == "archives":
            unknown = [n for n in (*self.univariate, *self.multivariate) if n not in ARCHIVE_FILES]
            if unknown:
                raise PracticumError(
                    f"unknown archive(s) {', '.join(unknown)}; known: {', '.join(ARCHIVE_FILES)}"
                )


# ---- data --------------------------------------------------------------------------------
def load_sets(config: Config, seed: int) -> list[tuple[Archive, bool]]:
    """Every dataset of the run, normalised, with whether it is multivariate."""
    if config.data == "generated":
        n, m, length = config.generated_train, config.generated_test, config.generated_length
        uni = generated_archive("Waves", 1, length, n, m, seed=seed)
        multi = generated_archive("Waves3", 3, length, n, m, seed=seed + 1, variable_length=True)
        raw = [(uni, False), (multi, True)]
    else:
        raw = [(load_archive(name), False) for name in config.univariate]
        raw += [(load_archive(name), True) for name in config.multivariate]
    out = []
    for archive, multivariate in raw:
        if (archive.train.channels > 1) != multivariate:
            kind = "multivariate" if archive.train.channels > 1 else "univariate"
            raise PracticumError(f"{archive.name} is {kind}: list it under {kind}")
        if multivariate and config.multivariate_normalisation == "dataset":
            mean, std = channel_statistics(archive.train)
            train, test = (
                standardise_channels(s, mean, std) for s in (archive.train, archive.test)
            )
        else:
            train, test = znormalise_series(archive.train), znormalise_series(archive.test)
        out.append((Archive(archive.name, train, test, archive.source), multivariate))
    return out


def tensors(data: SeriesSet, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(data.x).to(device), torch.from_numpy(data.y).to(device)


# ---- the plan: one iteration per training -------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One training: a dataset, a model, its LSTM cells (0: none) and its phase —
    ``select`` (trained on the reduced split, scored on validation) or ``final`` (the
    reported model, scored on test; its cells are chosen when the job starts)."""

    dataset: str
    model: ModelKind
    phase: Literal["select", "final"]
    cells: int = 0

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.model}"


def plan(config: Config, sets: list[tuple[Archive, bool]]) -> list[Job]:
    jobs: list[Job] = []
    for archive, multivariate in sets:
        jobs.append(Job(archive.name, "fcn", "final"))
        models: tuple[ModelKind, ...] = ("lstm-fcn",)
        if multivariate:
            models = (
                ("lstm-fcn", "mlstm-fcn") if config.lstm_fcn_on_multivariate else ("mlstm-fcn",)
            )
        for model in models:
            if len(config.cells) > 1:
                jobs += [Job(archive.name, model, "select", c) for c in config.cells]
            jobs.append(Job(archive.name, model, "final"))
    return jobs


def build(config: Config, job: Job, data: SeriesSet, cells: int) -> LSTMFCN:
    model = LSTMFCN(
        data.channels,
        data.length,
        len(data.classes),
        cells=cells,
        dropout=config.dropout,
        squeeze_excite=job.model == "mlstm-fcn",
        filters=config.filters,
        kernels=config.kernels,
        reduction=config.reduction,
    )
    for module in model.modules():  # the authors' initialisation of the convolutions
        if isinstance(module, torch.nn.Conv1d):
            torch.nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")
    return model


# ---- training and evaluation --------------------------------------------------------------
def train(
    model: LSTMFCN,
    data: SeriesSet,
    config: Config,
    epochs: int,
    gen: torch.Generator,
    device: str,
) -> list[float]:
    """Adam on cross-entropy; the learning rate falls by ``lr_factor`` when the epoch's
    training loss has not improved for ``lr_patience`` epochs; the model ends with the
    weights of its lowest-training-loss epoch. Returns the loss of every epoch."""
    x, y = tensors(data, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        factor=config.lr_factor,
        patience=config.lr_patience,
        min_lr=config.min_learning_rate,
    )
    losses: list[float] = []
    best = (math.inf, copy.deepcopy(model.state_dict()))
    for _ in range(epochs):
        model.train()
        total = 0.0
        for batch in batch_indices(len(y), config.batch_size, gen):
            batch = batch.to(device)
            loss = F.cross_entropy(model(x[batch]), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        epoch_loss = total / len(y)
        schedule.step(epoch_loss)
        losses.append(epoch_loss)
        if epoch_loss < best[0]:
            best = (epoch_loss, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[1])
    return losses


@torch.no_grad()
def evaluate(model: LSTMFCN, data: SeriesSet, device: str) -> tuple[float, float]:
    """Accuracy and mean cross-entropy, in evaluation mode (batch norm's running
    statistics, no dropout), in chunks of 256 cases."""
    model.eval()
    x, y = tensors(data, device)
    logits = torch.cat([model(x[i : i + 256]) for i in range(0, len(y), 256)])
    accuracy = float((logits.argmax(dim=1) == y).double().mean())
    return accuracy, float(F.cross_entropy(logits, y))


def choose_cells(config: Config, results: dict[str, Any], key: str) -> int:
    """The cell count with the best validation accuracy (ties: lower validation loss, then
    fewer cells); the only count when there is one to choose from."""
    if len(config.cells) == 1:
        return config.cells[0]
    scores = results["select"][key]
    return min(config.cells, key=lambda c: (-scores[str(c)][0], scores[str(c)][1], c))


def epochs_for(config: Config, job: Job, cases: int) -> int:
    """``epochs`` (``select_epochs`` for a candidate), raised until the training takes at
    least ``min_steps`` optimiser steps (a candidate: the same fraction of them)."""
    epochs = config.select_epochs if job.phase == "select" else config.epochs
    steps = config.min_steps * epochs / config.epochs
    return max(epochs, math.ceil(steps / math.ceil(cases / config.batch_size)))


def job_seed(seed: int, index: int) -> int:
    """The seed of the run's ``index``-th training: its own stream, so that a resumed run
    (which skips the trainings before its checkpoint) draws the same numbers."""
    return sub_seed(seed, index)


def validation_split(archive: Archive, config: Config, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) indices into the training split: ``val_fraction`` of
    it, at least one case per class; the same for every model and cell count of a dataset."""
    y = archive.train.y
    val_size = max(len(archive.train.classes), round(config.val_fraction * len(y)))
    name_seed = int.from_bytes(archive.name.encode()[:8].ljust(8, b"\0"), "little")
    return train_val_split(len(y), val_size, seed=(name_seed + seed) % 2**32, labels=y)


def run_job(
    config: Config,
    job: Job,
    archive: Archive,
    state: dict[str, Any],
    seed: int,
    split_seed: int,
    run: Run,
) -> dict[str, Any]:
    """Train (or, for ``selection=keep``, take) one model and record its scores in
    ``state["results"]`` and its weights in ``state["params"]``; returns the line to log."""
    results, params = state["results"], state["params"]
    torch.manual_seed(seed)  # initialisation and dropout: this job's own stream
    gen = torch.Generator().manual_seed(seed)  # batch order
    train_idx, val_idx = validation_split(archive, config, split_seed)
    choosing = job.model != "fcn" and len(config.cells) > 1
    cells = 0 if job.model == "fcn" else job.cells or choose_cells(config, results, job.key)
    fit_set = archive.train.subset(train_idx) if job.phase == "select" else archive.train
    losses: list[float] = []
    if job.phase == "final" and choosing and config.selection == "keep":
        # The chosen candidate itself, trained on the reduced split: no further training.
        fit_set = archive.train.subset(train_idx)
        model = build(config, job, fit_set, cells).to(run.device)
        model.load_state_dict(params[f"{job.key}/{cells}"])
        losses = results["select"][job.key][str(cells)][2]
    else:
        model = build(config, job, fit_set, cells).to(run.device)
        losses = train(
            model, fit_set, config, epochs_for(config, job, len(fit_set.y)), gen, run.device
        )
    if job.phase == "select":
        accuracy, loss = evaluate(model, archive.train.subset(val_idx), run.device)
        results["select"].setdefault(job.key, {})[str(cells)] = [accuracy, loss, losses]
        if config.selection == "keep":
            params[f"{job.key}/{cells}"] = {k: v.cpu() for k, v in model.state_dict().items()}
    else:
        accuracy, loss = evaluate(model, archive.test, run.device)
        results["final"][job.key] = {"accuracy": accuracy, "cells": cells, "losses": losses}
        params[job.key] = {k: v.cpu() for k, v in model.state_dict().items()}
    where = "validation" if job.phase == "select" else "test"
    return {f"{where}_accuracy": accuracy, f"{where}_loss": loss, "cells": cells}


# ---- the run -----------------------------------------------------------------------------
def ours(multivariate: bool) -> ModelKind:
    """The model each dataset is reported for: MLSTM-FCN on multivariate series."""
    return "mlstm-fcn" if multivariate else "lstm-fcn"


def metric_name(dataset: str, what: str) -> str:
    return f"{dataset.lower()}_{what.replace('-', '_')}"


def run(config: Config, run: Run) -> dict[str, float]:
    sets = load_sets(config, run.seed)
    by_name = {archive.name: archive for archive, _ in sets}
    sources = sorted({archive.source for archive, _ in sets})
    run.print(f"data: {', '.join(by_name)} from {', '.join(sources)}")
    run.write_json(
        "data.json",
        {
            "source": sources,
            "datasets": {
                a.name: {
                    "train": len(a.train.y),
                    "test": len(a.test.y),
                    "channels": a.train.channels,
                    "length": a.train.length,
                    "classes": len(a.train.classes),
                }
                for a, _ in sets
            },
        },
    )
    jobs = plan(config, sets)
    results: dict[str, Any] = {"select": {}, "final": {}}
    params: dict[str, Any] = {}
    state = {"results": results, "params": params}
    for i in run.loop(len(jobs), state, desc="training"):
        job = jobs[i]
        start = run.elapsed()
        line = run_job(
            config, job, by_name[job.dataset], state, job_seed(run.seed, i), run.seed, run
        )
        seconds = run.elapsed() - start
        run.log(
            job=i, dataset=job.dataset, model=job.model, phase=job.phase, **line, seconds=seconds
        )
        run.print(f"{job.dataset} {job.model} {job.phase} cells={line['cells']}: {line}")

    final = results["final"]
    metrics: dict[str, float] = {}
    table = []
    for archive, multivariate in sets:
        name = archive.name
        row = {"dataset": name, "multivariate": multivariate}
        for model in ("fcn", "lstm-fcn", "mlstm-fcn"):
            if f"{name}/{model}" in final:
                entry = final[f"{name}/{model}"]
                metrics[metric_name(name, model)] = entry["accuracy"]
                row[model] = entry["accuracy"]
                if model != "fcn":
                    metrics[metric_name(name, f"{model}_cells")] = entry["cells"]
                    row[f"{model}_cells"] = entry["cells"]
        published = (PAPER_MLSTM_FCN if multivariate else PAPER_LSTM_FCN).get(name)
        row["paper"] = published
        row["paper_fcn"] = PAPER_FCN.get(name)
        if published is not None:
            # Rounded: 147/150 - 1 is -0.02 exactly, not float's -0.020000000000000018.
            gap = final[f"{name}/{ours(multivariate)}"]["accuracy"] - published
            metrics[metric_name(name, "minus_paper")] = round(gap, 9)
        table.append(row)
    gaps = [metrics[metric_name(n, "minus_paper")] for n in PAPER_LSTM_FCN if n in by_name]
    if gaps:
        metrics["univariate_mean_minus_paper"] = round(float(np.mean(gaps)), 9)
    run.write_json("table.json", table)
    run.print(markdown_table(table))
    run.save_figure(accuracy_figure(table), "accuracy")
    run.save_figure(loss_figure(final, sets), "training_loss")
    run.set_params({f"{key}/{k}": v for key in final for k, v in params[key].items()})
    return metrics


# ---- report ------------------------------------------------------------------------------
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def markdown_table(table: list[dict[str, Any]]) -> str:
    """Test accuracy (%) per dataset: published, our FCN, ours (cells chosen on validation)."""
    lines = [
        "| dataset | published FCN | published (M)LSTM-FCN | FCN | LSTM-FCN | MLSTM-FCN |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        cells = [
            f"{percent(row.get(m))} ({row[m + '_cells']})" if m in row else "—"
            for m in ("lstm-fcn", "mlstm-fcn")
        ]
        lines.append(
            f"| {row['dataset']} | {percent(row['paper_fcn'])} | {percent(row['paper'])} | "
            f"{percent(row.get('fcn'))} | {cells[0]} | {cells[1]} |"
        )
    return "\n".join(lines)


def accuracy_figure(table: list[dict[str, Any]]) -> Any:
    """Bars per dataset: the published LSTM-FCN / MLSTM-FCN accuracy, our FCN, ours."""
    fig, ax = figure(size=(8.0, 4.0))
    x = np.arange(len(table))
    bars = [
        ("published", [r["paper"] for r in table], "0.6"),
        ("FCN (ours)", [r.get("fcn") for r in table], "tab:blue"),
        ("LSTM-FCN / MLSTM-FCN (ours)", [r.get(ours(r["multivariate"])) for r in table], "tab:red"),
    ]
    for k, (label, values, colour) in enumerate(bars):
        heights = [100 * v if v is not None else 0.0 for v in values]
        ax.bar(x + (k - 1) * 0.27, heights, width=0.27, label=label, color=colour)
    low = min(100 * v for _, values, _ in bars for v in values if v is not None)
    ax.set_ylim(max(0.0, low - 5), 100.5)
    ax.set_xticks(x, [r["dataset"] for r in table], rotation=20)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("UCR/UEA test accuracy: published vs ours")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3)
    return fig


def loss_figure(final: dict[str, Any], sets: list[tuple[Archive, bool]]) -> Any:
    """Training loss per epoch of every reported model, one panel per dataset."""
    fig, axes = figure(ncols=len(sets), size=(3.2, 2.8))
    axes = np.asarray(axes).ravel()
    for ax, (archive, _) in zip(axes, sets, strict=True):
        for model in ("fcn", "lstm-fcn", "mlstm-fcn"):
            entry = final.get(f"{archive.name}/{model}")
            if entry is not None and entry["losses"]:
                ax.semilogy(np.arange(1, len(entry["losses"]) + 1), entry["losses"], label=model)
        ax.set_title(archive.name)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].legend()
    return fig


# ---- the lab -----------------------------------------------------------------------------
SOURCE_2018 = "Karim et al. 2018, LSTM Fully Convolutional Networks for TSC, Table 2"
LAB = Lab(
    name="lstm-fcn",
    title="LSTM-FCN and MLSTM-FCN on UCR/UEA archives, against the FCN",
    source=(
        "Karim et al. 2018 (LSTM-FCN, IEEE Access 6), Table 2; Karim et al. 2019 (MLSTM-FCN, "
        "Neural Networks 116); Wang et al. 2017 (FCN baseline)"
    ),
    courses=("practitioners",),
    config=Config,
    quick={
        "data": "generated",
        "filters": (16, 32, 16),
        "cells": (4, 8),
        "epochs": 20,
        "select_epochs": 10,
        "min_steps": 0,
        "batch_size": 16,
        "learning_rate": 3e-3,
        "lr_patience": 5,
    },
    targets=[
        *[
            Target(
                metric_name(name, "minus_paper"),
                ">=",
                -0.02,
                f"{SOURCE_2018}: LSTM-FCN {name} {100 * value:.1f}%; within 2 points",
                paper=f"{100 * value:.1f}%",
            )
            for name, value in PAPER_LSTM_FCN.items()
        ],
        Target(
            "univariate_mean_minus_paper",
            ">=",
            -0.01,
            f"{SOURCE_2018}: mean of the four, "
            f"{100 * float(np.mean(list(PAPER_LSTM_FCN.values()))):.1f}%; within 1 point",
            paper=f"{100 * float(np.mean(list(PAPER_LSTM_FCN.values()))):.1f}% (mean of four)",
        ),
        *[
            Target(
                metric_name(name, "mlstm-fcn"),
                ">=",
                0.97,
                f"Karim et al. 2019: MLSTM-FCN on {name} {100 * value:.0f}%; held to >= 97%",
                # The issue quotes 100% for both; we found no readable table to confirm it.
                paper=f"{100 * value:.0f}% (not confirmed from the paper's table here)",
            )
            for name, value in PAPER_MLSTM_FCN.items()
        ],
    ],
    quick_targets=[
        Target("waves_lstm_fcn", ">=", 0.9, "practicum (ours): generated sine/square/sawtooth"),
        Target("waves3_mlstm_fcn", ">=", 0.9, "practicum (ours): generated, 3 channels"),
    ],
    summary="FCN, LSTM-FCN and MLSTM-FCN on six UCR/UEA sets; LSTM cells chosen on validation",
    time_full="27 min",  # the record: 2 threads beside one other job (31 min on one thread)
    time_quick="5 s",
    run=run,
)
