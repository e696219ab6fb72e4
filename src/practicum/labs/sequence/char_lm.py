"""Character-level language models on tiny-shakespeare: an LSTM and a small decoder-only
transformer trained with the same budget (steps x batch x context characters).

Both models see the same random windows of the training text (first 90%) and are judged by
the same number: mean cross-entropy of the next character on the held-out last 10%, in
nats (and bits) per character, over non-overlapping windows that start with no context.

Resuming: both models train in blocks of ``eval_every`` steps, and after each block a
checkpoint holds each model with its optimiser, window generator, running loss, curve and
training time; ``--resume`` continues after the last finished block with the same bits.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from practicum.data.text import SONNETS, CharVocab, load_tiny_shakespeare
from practicum.errors import PracticumError
from practicum.footprint import training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn import Recurrent
from practicum.nn.language_model import (
    TransformerLM,
    random_windows,
    tiling_windows,
    train_step,
    warmup_cosine,
)
from practicum.run import Run

# ---- config ------------------------------------------------------------------------------


@dataclass
class Config:
    corpus: Literal["tiny-shakespeare", "sonnets"] = "tiny-shakespeare"
    context: int = bounded(128, "[1, 65536]")  # characters per training window
    batch_size: int = bounded(24, "[1, 65536]")
    steps: int = bounded(1600, "[1, 1e7]")  # the same for both models
    learning_rate_transformer: float = bounded(2e-3, "(0, 10]")
    learning_rate_lstm: float = bounded(4e-3, "(0, 10]")
    warmup_steps: int = bounded(100, "[0, 1e7]")  # linear warm-up, then cosine decay to 10%
    weight_decay: float = bounded(0.1, "[0, 10]")
    grad_clip: float = bounded(1.0, "(0, 1e6]")
    dropout: float = bounded(0.0, "[0, 1)")
    # transformer
    width: int = bounded(128, "[1, 65536]")
    layers: int = bounded(4, "[1, 256]")
    heads: int = bounded(4, "[1, 1024]")
    # LSTM
    lstm_hidden: int = bounded(256, "[1, 65536]")
    lstm_layers: int = bounded(1, "[1, 64]")
    lstm_embed: int = bounded(64, "[1, 65536]")
    # evaluation and output
    eval_every: int = bounded(100, "[1, 1e7]")
    eval_windows: int = bounded(64, "[1, 1e6]")  # windows for the running validation estimate
    sample_chars: int = bounded(600, "[1, 1e6]")
    temperature: float = bounded(0.8, "(0, 100]")
    parallel: bool = True  # train both models at once, one core each (needs dropout = 0)

    def validate(self) -> None:
        if self.width % self.heads != 0:
            raise PracticumError(f"width ({self.width}) must be a multiple of heads ({self.heads})")


VOCAB = 256  # at most this many distinct characters (tiny-shakespeare has 65)


def footprint(config: Config) -> int:
    """Both models train side by side: the transformer's blocks (attention, a 4x MLP, and a
    T × T attention map per head) and the LSTM's gates, on a batch of windows each."""
    w, t, tokens = config.width, config.context, config.batch_size * config.context
    transformer = 12 * config.layers * w * w + (2 * VOCAB + t) * w
    attention = config.layers * tokens * (16 * w + config.heads * t)
    h, e = config.lstm_hidden, config.lstm_embed
    lstm = 4 * h * (e + h) + 4 * h * 2 * h * (config.lstm_layers - 1) + VOCAB * (e + h)
    gates = config.lstm_layers * tokens * 6 * h
    return training_bytes(transformer + lstm, attention + gates + tokens * 2 * VOCAB)


# ---- data --------------------------------------------------------------------------------


def load_corpus(config: Config) -> str:
    return load_tiny_shakespeare() if config.corpus == "tiny-shakespeare" else SONNETS


# ---- models ------------------------------------------------------------------------------


class LSTMLM(nn.Module):
    """Embedding -> stacked LSTM (ours, from ``practicum.nn``) -> linear read-out."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = Recurrent.lstm(
            embed, hidden, num_layers=layers, dropout=dropout, forget_bias=1.0
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: torch.Tensor, states=None, return_states: bool = False):
        out, states = self.rnn(self.embed(idx), states)
        logits = self.head(self.drop(out))
        return (logits, states) if return_states else logits

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, n: int, temperature: float, gen: torch.Generator):
        logits, states = self(prompt[None], return_states=True)  # read the prompt once
        out = []
        for _ in range(n):
            probs = torch.softmax(logits[:, -1] / temperature, -1)
            nxt = torch.multinomial(probs, 1, generator=gen)
            out.append(nxt)
            logits, states = self(nxt, states, return_states=True)  # carry the state
        return torch.cat(out, dim=1)[0].tolist()


# ---- training and evaluation --------------------------------------------------------------


def learning_rate(step: int, config: Config, peak: float) -> float:
    return warmup_cosine(step, config.warmup_steps, config.steps, peak)


@torch.no_grad()
def mean_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 64) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        logits = model(x[i : i + batch])
        total += F.cross_entropy(logits.flatten(0, 1), y[i : i + batch].flatten(), reduction="sum")
        count += y[i : i + batch].numel()
    model.train()
    return float(total) / count


class Trainer:
    """One model's training: the model, AdamW, its window generator, the running loss, the
    validation curve and the seconds it has trained; ``state_dict`` holds all of them, so a
    checkpoint of both trainers resumes both models exactly."""

    def __init__(self, name: str, model: nn.Module, peak_lr: float, config: Config, seed: int):
        self.name, self.model, self.peak_lr = name, model, peak_lr
        decay = [p for p in model.parameters() if p.ndim >= 2]  # no decay on biases/norm gains
        no_decay = [p for p in model.parameters() if p.ndim < 2]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay}],
            lr=peak_lr,
            betas=(0.9, 0.99),
            weight_decay=0.0,
        )
        # Separate generator per model but the same seed: both see the same windows in order.
        self.gen = torch.Generator().manual_seed(seed)
        self.smooth: float | None = None  # exponential moving average of the training loss
        self.curve: dict[str, list[float]] = {"step": [], "train": [], "val": [], "time": []}
        self.seconds = 0.0  # its own compute time, not time spent waiting for the other model

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "gen": self.gen.get_state(),
            "smooth": self.smooth,
            "curve": self.curve,
            "seconds": self.seconds,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.smooth = state["smooth"]
        self.curve = {k: list(v) for k, v in state["curve"].items()}
        self.seconds = state["seconds"]

    def train_block(
        self,
        steps: range,
        train_data: torch.Tensor,
        val_x: torch.Tensor,
        val_y: torch.Tensor,
        config: Config,
        device: str,
    ) -> dict[str, float | int | str]:
        """Train over ``steps``, then estimate the validation loss; returns the log entry."""
        start = time.perf_counter()
        for step in steps:
            for group in self.opt.param_groups:
                group["lr"] = learning_rate(step, config, self.peak_lr)
            x, y = random_windows(train_data, config.context, config.batch_size, self.gen)
            x, y = x.to(device), y.to(device)
            value = train_step(self.model, self.opt, x, y, config.grad_clip)
            self.smooth = value if self.smooth is None else 0.95 * self.smooth + 0.05 * value
        val = mean_loss(self.model, val_x, val_y)
        self.seconds += time.perf_counter() - start
        self.curve["step"].append(steps.stop)
        self.curve["train"].append(self.smooth)
        self.curve["val"].append(val)
        self.curve["time"].append(self.seconds)
        return {
            "model": self.name,
            "step": steps.stop,
            "train_loss": self.smooth,
            "val_loss": val,
            "time_s": self.seconds,
        }


def plot_curves(
    curves: dict[str, dict[str, list[float]]], run: Run, tokens_per_step: int, corpus: str
) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colours = {"transformer": "tab:blue", "lstm": "tab:orange"}
    for name, c in curves.items():
        axes[0].plot(c["step"], c["train"], "--", color=colours[name], label=f"{name} train")
        axes[0].plot(c["step"], c["val"], "-o", ms=3, color=colours[name], label=f"{name} val")
        axes[1].plot(
            np.array(c["time"]) / 60, c["val"], "-o", ms=3, color=colours[name], label=name
        )
    axes[0].set_xlabel(f"step ({tokens_per_step:,} characters each)")
    axes[0].set_ylabel("cross-entropy (nats / char)")
    axes[0].set_title("Loss against steps")
    axes[1].set_xlabel("training time (minutes; the two models train side by side)")
    axes[1].set_ylabel("validation cross-entropy (nats / char)")
    axes[1].set_title("Validation loss against wall-clock time")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Character-level language models on {corpus}")
    run.save_figure(fig, "curves")


# ---- the lab -----------------------------------------------------------------------------


def run(config: Config, run: Run) -> dict[str, float]:
    text = load_corpus(config)
    vocab = CharVocab.from_text(text)
    data = torch.from_numpy(vocab.encode(text))
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]
    if len(val_data) <= config.context + 1 or len(train_data) <= config.context + 1:
        raise PracticumError(f"context {config.context} is too long for this corpus")
    # Running estimate: a fixed random subset of the tiling windows; final: all of them.
    all_x, all_y = tiling_windows(val_data, config.context)
    pick = np.random.default_rng(run.seed).permutation(len(all_x))[: config.eval_windows]
    pick = torch.from_numpy(np.sort(pick))
    sub_x, sub_y = all_x[pick].to(run.device), all_y[pick].to(run.device)
    run.print(
        f"{config.corpus}: {len(text):,} chars, vocabulary {len(vocab)}, val {len(val_data):,}"
    )

    torch.manual_seed(run.seed)
    models: dict[str, nn.Module] = {
        "transformer": TransformerLM(
            len(vocab), config.context, config.width, config.layers, config.heads, config.dropout
        ),
        "lstm": LSTMLM(
            len(vocab), config.lstm_embed, config.lstm_hidden, config.lstm_layers, config.dropout
        ),
    }
    rates = {"transformer": config.learning_rate_transformer, "lstm": config.learning_rate_lstm}
    trainers = {
        name: Trainer(name, model.to(run.device), rates[name], config, run.seed)
        for name, model in models.items()
    }
    val_all = (all_x.to(run.device), all_y.to(run.device))

    # The two models train at the same time, each on one core with one torch thread: small
    # matrices gain little from a second thread, and each model's arithmetic stays
    # single-threaded, so its results do not depend on the other (determinism). Dropout draws
    # from torch's global generator, which two threads would share, so it forces one at a time.
    parallel = config.parallel and config.dropout == 0.0 and run.device == "cpu"
    # Training goes in blocks of eval_every steps, each ending with a validation estimate, and
    # run.loop checkpoints both trainers after each. In parallel the two models train a block
    # side by side and meet at its end. One at a time, all the transformer's blocks come
    # first, so dropout's draws from the global generator come in the order they would if
    # each model trained from start to finish in one go.
    every = config.eval_every
    blocks = [range(b, min(b + every, config.steps)) for b in range(0, config.steps, every)]
    if parallel:
        units = [(tuple(trainers), block) for block in blocks]
    else:
        units = [((name,), block) for name in trainers for block in blocks]

    def train_block(name: str, steps: range) -> dict[str, float | int | str]:
        return trainers[name].train_block(steps, train_data, sub_x, sub_y, config, run.device)

    def evaluate(name: str) -> tuple[dict[str, float], str]:
        model = trainers[name].model
        val = mean_loss(model, *val_all)
        gen = torch.Generator().manual_seed(run.seed)
        prompt = torch.from_numpy(vocab.encode("\n")).to(run.device)
        model.eval()
        sample = vocab.decode(model.generate(prompt, config.sample_chars, config.temperature, gen))
        numbers = {
            f"val_loss_{name}": val,
            f"val_bits_{name}": val / math.log(2),
            f"params_{name}": sum(p.numel() for p in model.parameters()),
        }
        return numbers, sample

    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            run_all = pool.map if parallel else map
            for unit in run.loop(len(units), trainers, desc=f"blocks of {every} steps"):
                names, steps = units[unit]
                # Logged here, in a fixed order, so that metrics.jsonl does not depend on
                # which thread finishes first.
                for entry in run_all(train_block, names, [steps] * len(names)):
                    run.log(**entry)
                    run.print(
                        f"{entry['model']} step {entry['step']}: train {entry['train_loss']:.3f}"
                        f" val {entry['val_loss']:.3f} ({entry['time_s']:.0f} s)"
                    )
            results = dict(zip(trainers, run_all(evaluate, trainers), strict=True))
    finally:
        torch.set_num_threads(threads_before)

    metrics: dict[str, float] = {}
    samples = {}
    for name, (numbers, sample) in results.items():
        samples[name] = sample
        metrics.update(numbers)
        # Times go to the log, not the metrics: metrics must repeat bit for bit.
        train_time = round(trainers[name].seconds, 1)
        run.log(model=name, train_time_s=train_time, final_val_loss=numbers[f"val_loss_{name}"])
        run.print(f"--- {name} sample (val {numbers[f'val_loss_{name}']:.3f} nats/char) ---")
        run.print(sample + "\n")
    (run.dir / "samples.txt").write_text(
        "".join(f"=== {name} ===\n{s}\n\n" for name, s in samples.items()), encoding="utf-8"
    )
    metrics["val_chars"] = int(all_y.numel())
    curves = {name: t.curve for name, t in trainers.items()}
    plot_curves(curves, run, config.batch_size * config.context, config.corpus)
    run.set_params(models)
    return metrics


LAB = Lab(
    name="char-lm",
    title="Character language models: LSTM vs a small transformer on tiny-shakespeare",
    source="ECE472 assignment 6; Karpathy's char-rnn / nanoGPT (tiny-shakespeare)",
    courses=("ece472",),
    config=Config,
    quick={
        "corpus": "sonnets",
        "context": 32,
        "batch_size": 16,
        "steps": 150,
        "width": 32,
        "layers": 2,
        "heads": 2,
        "lstm_hidden": 64,
        "lstm_embed": 16,
        "warmup_steps": 10,
        "eval_every": 50,
        "eval_windows": 8,
        "sample_chars": 120,
    },
    targets=[
        Target("val_loss_transformer", "<=", 1.70, "ECE472 assignment 6 (nanoGPT: ~1.47 on a GPU)"),
        Target("val_loss_lstm", "<=", 1.80, "ECE472 assignment 6"),
    ],
    quick_targets=[
        # Sonnets: 1,202 characters, 44 distinct. On the same split character frequencies alone
        # (a unigram model) give 3.08 nats and the uniform guess ln 44 = 3.78; bigram counts
        # give 2.46-2.74. Below 2.9 a model must use the characters before the one it predicts.
        Target("val_loss_transformer", "<=", 2.9, "quick: below a unigram model (3.08)"),
        Target("val_loss_lstm", "<=", 2.9, "quick: below a unigram model (3.08)"),
    ],
    summary="same budget of characters, validation cross-entropy of a transformer and an LSTM",
    time_full="33 min",  # 1 thread; 10.5 min on 2 idle cores (transformer and LSTM side by side)
    time_quick="7 s",
    footprint=footprint,
    run=run,
)
