"""Semi-supervised VAE: the M2 model of Kingma et al. 2014 on MNIST with 100 labels.

Generative model: y ~ Cat(1/10), z ~ N(0, I), x ~ Bernoulli(decoder(y, z)): the label says which
digit, z says how it is written ("style"). Inference networks: a classifier q(y | x) and an
encoder q(z | x, y) = N(μ(x, y), diag σ²(x, y)).

* A labelled image (x, y) has the bound −L(x, y) = E_q(z|x,y)[log p(x | y, z)] + log p(y)
  − KL(q(z | x, y) ‖ p(z)) on log p(x, y).
* For an unlabelled image the label is a latent variable too: sum over all ten labels,
  −U(x) = Σ_y q(y | x) (−L(x, y)) + H(q(y | x)).
* Since q(y | x) would otherwise learn only through the unlabelled term, the paper adds
  α · (−log q(y | x)) on labelled images, α = 0.1 · N. With per-batch means of each term we
  weight the classification mean by 0.1 × (unlabelled / labelled), about 50 for 100 labels.

Only 100 training images (10 per class, chosen by ``label_seed``) keep their labels; the
rest of the training split is unlabelled. The test accuracy of q(y | x) is the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from practicum.data import batch_indices
from practicum.data.digits import DigitDataset, binarise, load_digit_images
from practicum.errors import PracticumError
from practicum.footprint import encoder_decoder_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.generative import (
    DiagonalGaussian,
    MLPDecoder,
    MLPEncoder,
    bernoulli_log_likelihood,
)
from practicum.plotting import image_grid
from practicum.run import Run

NUM_CLASSES = 10


@dataclass
class Config:
    dataset: DigitDataset = "mnist"
    labels_per_class: int = bounded(10, "[1, 1000]")
    label_seed: int = bounded(
        0, "[0, 1e9]"
    )  # which images keep their labels (reported with the result)
    latent_dim: int = bounded(32, "[1, 4096]")
    hidden: tuple[int, ...] = bounded((500,), "[1, 65536]")
    epochs: int = bounded(50, "[1, 1000]")
    batch_size: int = bounded(100, "[1, 65536]")  # unlabelled images per step
    labelled_batch_size: int = bounded(100, "[1, 65536]")
    learning_rate: float = bounded(
        1e-3, "(0, 10]"
    )  # Adam; 3e-4 (the paper's) climbs ~3x slower, see docs
    cosine: bool = True  # learning rate decays to zero on a cosine over the epochs
    alpha: float = bounded(0.1, "[0, 1000]")  # classification weight, × (unlabelled / labelled)
    val_size: int = bounded(5000, "[1, 1e6]")

    def validate(self) -> None:
        if not self.hidden:
            raise PracticumError("hidden must list at least one layer width")


def footprint(config: Config) -> int:
    """The classifier, encoder and decoder (about three halves of an encoder-decoder pair);
    each unlabelled image is decoded once per class."""
    rows = NUM_CLASSES * config.batch_size + config.labelled_batch_size
    return encoder_decoder_bytes(784 + NUM_CLASSES, config.hidden, 2 * config.latent_dim, rows, 2)


class M2(nn.Module):
    def __init__(self, num_pixels: int, hidden: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.classifier = MLPEncoder(num_pixels, hidden, NUM_CLASSES)
        self.encoder = MLPEncoder(num_pixels + NUM_CLASSES, hidden, 2 * latent_dim)
        self.decoder = MLPDecoder(latent_dim + NUM_CLASSES, tuple(reversed(hidden)), num_pixels)

    def neg_bound_labelled(
        self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        """L(x, y) per example: −(log p(x|y,z) + log p(y) − KL), one reparameterised z."""
        x = x.flatten(1)
        onehot = F.one_hot(y, NUM_CLASSES).float()
        q = DiagonalGaussian.from_params(self.encoder(torch.cat([x, onehot], -1)))
        z = q.rsample(generator=gen)
        rec = bernoulli_log_likelihood(self.decoder(torch.cat([z, onehot], -1)), x)
        return -(rec - math.log(NUM_CLASSES) - q.kl_standard_normal())

    def neg_bound_unlabelled(
        self, x: torch.Tensor, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        """U(x) per example: Σ_y q(y|x) L(x, y) − H(q(y|x)), enumerating all ten labels."""
        n = x.shape[0]
        logits = self.classifier(x)
        probs, log_probs = logits.softmax(-1), logits.log_softmax(-1)
        labels = torch.arange(NUM_CLASSES, device=x.device).repeat_interleave(n)
        per_label = self.neg_bound_labelled(x.repeat(NUM_CLASSES, 1, 1, 1), labels, gen)
        per_label = per_label.reshape(NUM_CLASSES, n).T  # (n, 10)
        entropy = -(probs * log_probs).sum(-1)
        return (probs * per_label).sum(-1) - entropy


def pick_labelled(y: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Indices of ``per_class`` images of each class, chosen with ``seed`` (sorted)."""
    rng = np.random.default_rng(seed)
    labels = y.numpy()
    chosen = []
    for c in range(NUM_CLASSES):
        pool = np.flatnonzero(labels == c)
        if len(pool) < per_class:
            raise PracticumError(f"class {c} has only {len(pool)} images, need {per_class}")
        chosen.append(rng.choice(pool, per_class, replace=False))
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


@torch.no_grad()
def accuracy(model: M2, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    model.eval()
    pred = torch.cat([model.classifier(xb).argmax(-1) for xb in x.split(batch)])
    model.train()
    return (pred == y).float().mean().item()


def plot_conditional_samples(model: M2, size: int, gen: torch.Generator, run: Run) -> None:
    import matplotlib.pyplot as plt

    rows = 8
    device = next(model.parameters()).device
    z = torch.randn(rows, model.latent_dim, generator=gen).to(device)
    z = z.repeat_interleave(NUM_CLASSES, 0)  # one style per row
    y = torch.arange(NUM_CLASSES, device=device).repeat(rows)
    with torch.no_grad():
        logits = model.decoder(torch.cat([z, F.one_hot(y, NUM_CLASSES).float()], -1))
    images = torch.sigmoid(logits).reshape(-1, 1, size, size)
    fig, ax = plt.subplots(figsize=(7.5, 6.4))
    ax.imshow(image_grid(images, rows=rows), cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([(size + 1) * (i + 0.5) for i in range(NUM_CLASSES)])
    ax.set_xticklabels(range(NUM_CLASSES))
    ax.set_yticks([])
    ax.set_xlabel("label y given to the decoder")
    ax.set_ylabel("style z (fixed along each row)")
    ax.set_title("M2: class-conditional samples p(x | y, z)")
    run.save_figure(fig, "conditional_samples")


def plot_curves(history: list[dict[str, float]], target: float, run: Run) -> None:
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    axes[0].plot(epochs, [h["val_accuracy"] for h in history], label="validation accuracy")
    axes[0].axhline(target, color="grey", ls=":", label=f"target {target:.0%} (test)")
    axes[0].set_ylabel("accuracy of q(y | x)")
    axes[0].set_title("Classifier trained with 100 labels")
    axes[1].plot(epochs, [h["unlabelled_bound"] for h in history], label="U(x), unlabelled")
    axes[1].plot(epochs, [h["labelled_bound"] for h in history], label="L(x, y), labelled")
    axes[1].set_ylabel("negative bound (nats per image)")
    axes[1].set_title("Training objectives")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    run.save_figure(fig, "curves")


def run(config: Config, run: Run) -> dict[str, float]:
    gen = torch.Generator().manual_seed(run.seed)
    data = load_digit_images(config.dataset, config.val_size, run.seed)
    labelled = pick_labelled(data.y_train, config.labels_per_class, config.label_seed)
    mask = torch.ones(len(data.y_train), dtype=torch.bool)
    mask[labelled] = False
    x_lab, y_lab = data.x_train[labelled].to(run.device), data.y_train[labelled].to(run.device)
    x_unl = data.x_train[mask].to(run.device)  # their labels are never looked at
    x_val, y_val = data.x_val.to(run.device), data.y_val.to(run.device)
    x_test, y_test = data.x_test.to(run.device), data.y_test.to(run.device)
    # The classifier sees grey values; the generative terms see binarised pixels.
    weight = config.alpha * len(x_unl) / len(x_lab)
    run.print(f"{len(x_lab)} labelled, {len(x_unl)} unlabelled images; α·N = {weight:.1f}")

    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    model = M2(data.num_pixels, config.hidden, config.latent_dim).to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 0.5 * (1 + math.cos(math.pi * e / config.epochs)) if config.cosine else 1.0
    )
    history: list[dict[str, float]] = []
    state = {
        "model": model,
        "optimizer": opt,
        "schedule": sched,
        "generator": gen,
        "history": history,
    }
    for epoch in run.loop(config.epochs, state):
        sums, steps = np.zeros(2), 0
        for idx in batch_indices(len(x_unl), config.batch_size, gen, drop_last=True):
            lab = torch.randint(len(x_lab), (config.labelled_batch_size,), generator=gen)
            xl, yl = x_lab[lab.to(run.device)], y_lab[lab.to(run.device)]
            xu = x_unl[idx.to(run.device)]
            neg_l = model.neg_bound_labelled(binarise(xl, gen), yl, gen).mean()
            neg_u = model.neg_bound_unlabelled(binarise(xu, gen), gen).mean()
            classification = F.cross_entropy(model.classifier(xl), yl)
            loss = neg_l + neg_u + weight * classification
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums += [neg_l.item(), neg_u.item()]
            steps += 1
        sched.step()
        entry = {
            "epoch": epoch + 1,
            "labelled_bound": float(sums[0] / steps),
            "unlabelled_bound": float(sums[1] / steps),
            "val_accuracy": accuracy(model, x_val, y_val),
        }
        history.append(entry)
        run.log(**entry)
        run.print(f"epoch {epoch + 1}: val accuracy {entry['val_accuracy']:.4f}")

    plot_conditional_samples(model, data.image_size, torch.Generator().manual_seed(run.seed), run)
    plot_curves(history, 0.88, run)
    run.set_params(model)
    return {
        "test_accuracy": accuracy(model, x_test, y_test),
        "val_accuracy": history[-1]["val_accuracy"],
        "num_labelled": len(x_lab),
        "label_seed": config.label_seed,
        "epochs": config.epochs,
    }


LAB = Lab(
    name="ssvae",
    title="Semi-supervised VAE (M2) on MNIST with 100 labels",
    source="Kingma, Rezende, Mohamed & Welling 2014; DTU 02456 week 7",
    courses=("dtu02456",),
    config=Config,
    quick={
        "dataset": "digits",
        "epochs": 15,
        "hidden": (128,),
        "latent_dim": 8,
        "batch_size": 50,
        "labelled_batch_size": 50,
        "learning_rate": 1e-3,
        "val_size": 200,
    },
    targets=[Target("test_accuracy", ">=", 0.88, "Kingma et al. 2014 (M2, 100 labels: 88.0%)")],
    quick_targets=[Target("test_accuracy", ">=", 0.70, "quick mode on 8×8 digits (relaxed)")],
    summary="M2 learns a classifier from 100 labels plus unlabelled images, and label-free style",
    time_full="41 min",  # 1 thread
    time_quick="6 s",
    footprint=footprint,
    run=run,
)
