"""A DCGAN on MNIST, judged by a trained MNIST classifier (Goodfellow et al. 2014; Radford et al.
2016; DTU 02456 week 7).

A generator G maps noise z ~ N(0, I) to an image; a discriminator D outputs the logit of
"this image is real". They play the minimax game with the non-saturating generator loss:

    D maximises  log D(x) + log(1 − D(G(z))),      G maximises  log D(G(z)).

Architecture (DCGAN): G is linear -> (2C, 7, 7) -> two stride-2 transposed convolutions with
batch norm and ReLU -> tanh; D mirrors it with stride-2 convolutions and LeakyReLU(0.2). Adam
with lr 2e-4 and β₁ = 0.5, as in the DCGAN paper.

A GAN has no likelihood to report, so we judge 10,000 samples with the classifier of the
``mnist-cnn`` lab (:mod:`practicum.recipes.judge`: trained here, or loaded from a finished
mnist-cnn run with ``--set judge_run=RUN_DIR``):

* confident fraction: the share of samples the classifier labels with probability ≥ 0.9
  (do the samples look like some digit?);
* class entropy: the entropy of the histogram of predicted labels (ln 10 ≈ 2.303 when all ten
  digits are produced equally often; mode collapse lowers it);
* Fréchet distance between Gaussians fitted to the classifier's penultimate features of the
  samples and of the test set (the idea of the FID, with an MNIST network instead of Inception).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from practicum.data import batch_indices
from practicum.data.digits import DigitDataset, load_digit_images
from practicum.footprint import FLOAT_BYTES, MNIST_VALUES, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.conv import update_average
from practicum.nn.generative import ConvDecoder, ConvEncoder
from practicum.plotting import image_grid
from practicum.recipes.judge import judge_samples, obtain_judge
from practicum.run import Run


@dataclass
class Config:
    dataset: DigitDataset = "mnist"
    latent_dim: int = bounded(64, "[1, 4096]")
    # C: the generator's last hidden layer; the discriminator's first. Measured (seed 0): C = 32
    # for 5 epochs without averaging gave confident_fraction 0.570, class entropy 2.194.
    channels: int = bounded(64, "[1, 4096]")
    # A fully connected layer after z in G and before the logit in D (0: none). Measured (seed
    # 0, C = 64, 10 epochs, averaged G): without it confident_fraction 0.643, entropy 2.209.
    hidden: int = bounded(1024, "[0, 65536]")
    epochs: int = bounded(10, "[1, 1000]")
    batch_size: int = bounded(64, "[1, 65536]")
    learning_rate: float = bounded(2e-4, "(0, 10]")
    beta1: float = bounded(0.5, "[0, 1)")
    # Samples come from an exponential moving average of the generator's weights (Yazıcı et
    # al. 2019): it smooths the oscillation of the two-player game. 0 turns it off.
    ema_decay: float = bounded(0.999, "[0, 1)")
    num_samples: int = bounded(10_000, "[10, 1e6]")  # judged by the classifier
    judge_run: str = ""  # a finished mnist-cnn run folder; empty: train the judge here
    judge_epochs: int = bounded(3, "[1, 1000]")  # when training the judge here
    val_size: int = bounded(5000, "[1, 1e6]")


def footprint(config: Config) -> int:
    """G and D are about the same size (C and 2C channels at 14² and 7² pixels, and the
    fully connected layer); each step sees a real and a fake batch; the averaged G is a third
    copy of G's weights; the judged samples are kept."""
    c, h = config.channels, config.hidden
    stem = (config.latent_dim + 98 * c) * h if h else config.latent_dim * 98 * c
    parameters = 2 * (stem + 32 * c * c)
    activations = 2 * config.batch_size * (294 * c + 784 + h)
    data = MNIST_VALUES + 784 * config.num_samples
    return training_bytes(parameters, activations, data) + FLOAT_BYTES * stem


# ---- models ----------------------------------------------------------------------------------


class Generator(nn.Module):
    """z -> [fully connected layer of ``hidden`` units] -> ConvDecoder -> tanh."""

    def __init__(self, latent_dim: int, image_size: int, channels: int, hidden: int = 0) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        stem: list[nn.Module] = []
        if hidden:  # as in InfoGAN's MNIST networks (Chen et al. 2016)
            stem = [nn.Linear(latent_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
        self.net = nn.Sequential(*stem, ConvDecoder(hidden or latent_dim, image_size, channels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(z))  # images in [-1, 1]


def discriminator(image_size: int, channels: int, hidden: int = 0) -> nn.Module:
    """ConvEncoder -> [fully connected layer of ``hidden`` units] -> one logit: real or fake."""
    if not hidden:
        return ConvEncoder(1, image_size, channels)
    return nn.Sequential(
        ConvEncoder(hidden, image_size, channels),
        nn.BatchNorm1d(hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
    )


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation: weights N(0, 0.02²); BatchNorm2d scales N(1, 0.02²).

    The generator's BatchNorm1d (after its linear stem) keeps torch's default scale of 1:
    the run of record was trained so, and the difference is within the 0.02 spread.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---- plots -----------------------------------------------------------------------------------


def plot_grid(images01: torch.Tensor, title: str, name: str, run: Run) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 6.8))
    ax.imshow(image_grid(images01, rows=8), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
    run.save_figure(fig, name)


def plot_losses(history: list[tuple[float, float, float]], run: Run) -> None:
    import matplotlib.pyplot as plt

    epoch, d_loss, g_loss = (np.array(v) for v in zip(*history, strict=True))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(epoch, d_loss, label="discriminator: −log D(x) − log(1 − D(G(z)))")
    ax.plot(epoch, g_loss, label="generator: −log D(G(z))")
    ax.axhline(2 * math.log(2), color="grey", lw=1, ls=":", label="D at equilibrium (2 ln 2)")
    ax.axhline(math.log(2), color="grey", lw=1, ls="--", label="G at equilibrium (ln 2)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (moving average over 50 steps)")
    ax.set_title("GAN losses")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    run.save_figure(fig, "losses")


def plot_class_histogram(labels: torch.Tensor, confident: torch.Tensor, run: Run) -> None:
    import matplotlib.pyplot as plt

    counts = torch.bincount(labels, minlength=10).cpu().numpy()
    sure = torch.bincount(labels[confident], minlength=10).cpu().numpy()
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    ax.bar(range(10), counts, color="lightgrey", label="all samples")
    ax.bar(range(10), sure, color="tab:blue", label="classified with confidence ≥ 0.9")
    ax.axhline(len(labels) / 10, color="k", lw=1, ls=":", label="uniform")
    ax.set_xticks(range(10))
    ax.set_xlabel("digit predicted by the judge")
    ax.set_ylabel("samples")
    ax.set_title(f"What the classifier sees in {len(labels):,} GAN samples", pad=26)
    ax.set_ylim(0, max(counts.max(), len(labels) / 10) * 1.08)
    # Above the axes, under the title: no bar, however tall, can run into it.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=9, frameon=False)
    run.save_figure(fig, "class_histogram")


# ---- the lab ---------------------------------------------------------------------------------


def run(config: Config, run: Run) -> dict[str, float]:
    gen = torch.Generator().manual_seed(run.seed)
    data = load_digit_images(config.dataset, config.val_size, run.seed)
    x_train = (data.x_train * 2 - 1).to(run.device)  # tanh range
    size = data.image_size

    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    G = Generator(config.latent_dim, size, config.channels, config.hidden).to(run.device)
    D = discriminator(size, config.channels, config.hidden).to(run.device)
    dcgan_init(G)
    dcgan_init(D)
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.learning_rate, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=config.learning_rate, betas=betas)
    fixed_z = torch.randn(64, config.latent_dim, generator=gen).to(run.device)
    G_avg = copy.deepcopy(G).requires_grad_(False)  # the averaged generator that draws samples

    def noise(n: int) -> torch.Tensor:
        return torch.randn(n, config.latent_dim, generator=gen).to(run.device)

    @torch.no_grad()
    def samples01(z: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from the averaged generator (batch norm in inference mode)."""
        G_avg.eval()
        return (G_avg(z) + 1) / 2

    # Losses are shown as moving averages over about 50 steps, starting at their equilibria;
    # `history` keeps (epoch, D loss, G loss) ten times an epoch for the loss plot.
    history: list[tuple[float, float, float]] = []
    running = {"d_loss": 2 * math.log(2), "g_loss": math.log(2), "step": 0}
    steps_per_epoch = len(x_train) // config.batch_size
    state = {"G": G, "D": D, "G_avg": G_avg, "opt_g": opt_g, "opt_d": opt_d, "gen": gen}
    state |= {"history": history, "running": running}
    for epoch in run.loop(config.epochs, state):
        for idx in batch_indices(len(x_train), config.batch_size, gen, drop_last=True):
            real = x_train[idx]
            ones = torch.ones(len(idx), 1, device=run.device)
            zeros = torch.zeros(len(idx), 1, device=run.device)
            # Discriminator step: real images -> 1, generated images (detached) -> 0.
            fake = G(noise(len(idx)))
            d_loss = F.binary_cross_entropy_with_logits(D(real), ones)
            d_loss = d_loss + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            # Generator step, non-saturating: make D call the fakes real.
            g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            update_average(G_avg, G, config.ema_decay)
            running["step"] += 1
            running["d_loss"] += (d_loss.item() - running["d_loss"]) / 50
            running["g_loss"] += (g_loss.item() - running["g_loss"]) / 50
            if running["step"] % max(1, steps_per_epoch // 10) == 0:
                at = running["step"] / steps_per_epoch
                history.append((at, running["d_loss"], running["g_loss"]))
        run.log(epoch=epoch + 1, d_loss=running["d_loss"], g_loss=running["g_loss"])
        run.print(
            f"epoch {epoch + 1}: D loss {running['d_loss']:.3f}, G loss {running['g_loss']:.3f}"
        )
        plot_grid(
            samples01(fixed_z),
            f"Samples after epoch {epoch + 1} (same z every epoch)",
            f"samples_epoch{epoch + 1:02d}",
            run,
        )
    plot_grid(samples01(fixed_z), f"DCGAN samples after {config.epochs} epochs", "samples", run)
    plot_losses(history, run)

    # Judge the samples.
    judge = obtain_judge(config.dataset, config.judge_epochs, config.judge_run, run)
    samples = torch.cat([samples01(noise(n)) for n in _chunks(config.num_samples, 1000)])
    x_test = data.x_test.to(run.device)
    verdict = judge_samples(judge, samples, x_test)
    plot_class_histogram(verdict.labels, verdict.confident, run)
    # Reference: the same distance between two halves of real data (training vs test digits).
    fd_real = judge.frechet(data.x_train[: len(data.x_test)].to(run.device), x_test)
    run.print(f"judge: {judge.source}, test accuracy {judge.test_accuracy:.4f}")
    run.set_params({"generator": G, "generator_average": G_avg, "discriminator": D})
    return {
        "confident_fraction": verdict.confident_fraction,
        "class_entropy": verdict.class_entropy,
        "frechet_distance": verdict.frechet_distance,
        "frechet_distance_real_vs_real": fd_real,
        "judge_test_accuracy": judge.test_accuracy,
        "epochs": config.epochs,
    }


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


LAB = Lab(
    name="gan",
    title="DCGAN on MNIST, judged by the mnist-cnn classifier",
    source="Goodfellow et al. 2014; Radford et al. 2016 (DCGAN); DTU 02456 week 7",
    courses=("dtu02456",),
    config=Config,
    quick={
        "dataset": "digits",
        "epochs": 20,
        "batch_size": 32,
        "channels": 16,
        "hidden": 0,  # measured: a 128-unit layer collapses to a few modes on 8×8 digits
        "ema_decay": 0.99,  # ~800 steps in all: average over the last ~100
        "num_samples": 1000,
        "val_size": 200,
    },
    targets=[
        Target("confident_fraction", ">=", 0.80, "DTU 02456 week 7 (GANs)"),
        Target("class_entropy", ">=", 0.95 * math.log(10), "DTU 02456 week 7 (no mode collapse)"),
    ],
    quick_targets=[
        Target("class_entropy", ">=", 0.8 * math.log(10), "quick mode on 8×8 digits (relaxed)"),
        # Noise can spread over the classes too; the Fréchet distance tells it from digits:
        # 270 after one epoch, 34.9 after the quick run's 20, 11.3 between two real halves.
        Target("frechet_distance", "<=", 70.0, "quick: far closer to digits than noise"),
    ],
    summary="A DCGAN's samples are recognised as digits of every class by an MNIST classifier",
    time_full="55 min",  # 1 thread, cores shared
    time_quick="10 s",
    footprint=footprint,
    run=run,
)
