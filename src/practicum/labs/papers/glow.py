"""Glow: a multi-scale flow of actnorm, invertible 1×1 convolutions and affine couplings on
dequantised MNIST (Kingma & Dhariwal 2018), and the same layers on 2-D densities.

Claim (Kingma & Dhariwal 2018, "Glow: generative flow with invertible 1×1 convolutions",
NeurIPS; Table 2 and sec. 5): a flow built only of exactly invertible layers with cheap
log-determinants — ActNorm, an invertible 1×1 convolution (LU-parameterised) and an affine
coupling, in Dinh et al.'s multi-scale architecture — is trained by maximum likelihood and reaches
1.05 bits per dimension on MNIST; its samples look like the data when drawn at a reduced
temperature (T = 0.7), and its latent space interpolates smoothly between images.

Data: MNIST's 60,000 training digits less a 5,000-image validation split (as the gan and ddpm
labs), uint8 levels k dequantised to y = (k + u)/256, u ~ U[0, 1) afresh for every batch
(:func:`practicum.flows.dequantize`), and centred (y − ½, as Glow's code), which leaves the
density unchanged. The 28×28 digits are not padded to 32×32: two levels (28 → 14 → 7) divide 28,
and padding would add 30 % more dimensions to every layer (1,024 against 784) for nothing but
constant pixels, which would also flatter the bits per dimension.

Model (:class:`practicum.flows.Glow`): ``levels`` scales; each squeezes 2×2 patches into
channels and runs ``steps_per_level`` steps of ActNorm → LU 1×1 convolution → affine coupling
(3×3 → 1×1 → zero-initialised 3×3 convolutions of ``hidden`` channels); the first level factors
out half its channels under a Gaussian conditioned on the other half, the last has a learned
per-channel Gaussian (Glow's learntop). The paper's model is far larger (sec. 5 and the report).

Loss and loop: the negative log-likelihood in bits per dimension of the dequantised digits, on
batches drawn with replacement; ActNorm's data-dependent initialisation on one batch of
``init_size`` digits before the first step (sec. 3.1); Adam (the paper's optimiser; the paper's
rate 10⁻³, ours twice that for a short run of a small model) with a linear warm-up, the
gradient norm clipped. Training is ``run.loop`` over blocks of
``log_every`` steps, each followed by the bits/dim of ``val_eval`` validation digits (one fixed
dequantisation); model, optimiser, generator and the history are checkpointed, and every other
random stream has its own seed (``sub_seed``), so a resumed run ends with the same bits.

Evaluation: the test bits/dim, once, on the 10,000 test digits (one dequantisation draw);
``num_samples`` digits drawn at T = 0.7 shown to the gan lab's judge
(:mod:`practicum.recipes.judge`, as the ddpm lab does: confident fraction, class entropy,
Fréchet distance to the test digits, and the same distance for as many real training digits,
the floor), and ``t1_samples`` at T = 1 judged the same way; figures: samples at T = 0.7 and 1,
a latent interpolation (two test digits encoded, every level's latent interpolated linearly,
decoded), the training curve, and the 2-D figure — :class:`practicum.flows.RealNVP2d` (the same
ActNorm and bounded affine coupling on vectors) fitted to two moons and to a ring of 8 Gaussians,
with the data, the learned density and samples, and each fit's test negative log-likelihood
(for the ring also the true density's, the floor).

Targets (full run): test bits/dim ≤ 1.5 (the paper: 1.05 with a far larger model; the gap and
the model sizes are reported), and the gan lab's targets for the T = 0.7 samples (confident
fraction ≥ 0.8, class entropy ≥ 0.95 ln 10), as the ddpm lab uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from practicum.data.digits import DigitDataset, load_digit_images
from practicum.errors import PracticumError
from practicum.flows import Glow, RealNVP2d, bits_per_dim, dequantize
from practicum.footprint import MNIST_VALUES, training_bytes
from practicum.lab import Lab, Target, bounded
from practicum.nn.conv import count_parameters
from practicum.plotting import figure, image_grid
from practicum.recipes.judge import judge_samples, obtain_judge
from practicum.repro import sub_seed
from practicum.run import Run


# ---- config --------------------------------------------------------------------------------
@dataclass
class Config:
    dataset: DigitDataset = "mnist"  # "digits": scikit-learn's 8×8 digits, for --quick
    val_size: int = bounded(5000, "[1, 1e6]")  # held out of training, as the gan and ddpm labs
    # Bits per pixel of the data: MNIST has 256 grey levels. The 8×8 digits have 17 (0-16):
    # at 8 bits they are 17 spikes 1/256 wide that a small flow cannot resolve in seconds
    # (measured: 6.3 bits/dim after 300 steps, 7.5 at the start), so --quick models them as
    # 4-bit data (16 and 15 merge), as Glow does 5-bit CelebA-HQ.
    bits: int = bounded(8, "[1, 8]")
    # The flow. Two levels divide 28 (28 → 14 → 7); the paper's MNIST model is far larger.
    levels: int = bounded(2, "[1, 8]")
    # Measured at one thread, batch 64, 28×28 (shared machine, the other core busy):
    # K = 8, hidden 96: 0.40 s a step (0.41 in this loop, 276,700 parameters); K = 8, hidden
    # 128: 0.65 s; K = 6, hidden 96: 0.33 s; K = 12, hidden 64: 0.40 s. Depth is what flows
    # gain most from at a fixed cost.
    steps_per_level: int = bounded(8, "[1, 256]")
    hidden: int = bounded(96, "[1, 4096]")  # channels of every coupling's network
    lu: bool = True  # the LU-parameterised 1×1 convolution (sec. 3.2); False: dense, slogdet
    # Training. 0.41 s a step × 1.3 (a shared machine) ≈ 0.53 s: 3,200 steps ≈ 28.3 min; with
    # the validation curve (16 × 1,000 digits at 3.8 s × 1.3: 1.3 min) 29.6 min; the rest of
    # ~35 min: the test set (10,000 digits, 0.8 min), the judge (< 2.5 min), 12,000 samples
    # (500 in 1.9 s: 1 min) and the 2-D fits (< 0.5 min). Planned, not yet run in full.
    steps: int = bounded(3200, "[1, 1e7]")
    batch_size: int = bounded(64, "[1, 65536]")  # the paper's MNIST batch (recalled)
    # Twice the paper's Adam rate (10⁻³), for a model ~160× smaller trained ~3.7 epochs.
    # Measured (training bits/dim, mean of 20 steps): 10⁻³ with a 200-step warm-up: 5.5 at
    # step 130; 2·10⁻³ with 50: 4.1 at step 130, 3.3 at 200, 2.9 at 400, 2.5 at 590.
    learning_rate: float = bounded(2e-3, "(0, 10]")
    warmup: int = bounded(50, "[0, 1e7]")  # linear warm-up steps: the first steps are steep
    # Gradient norms of the mean bits/dim run at 45 (median, first 200 steps) to 110 (steps
    # 200-600), peaks 400-560: clipping at 50 bounds the steep batches' steps.
    grad_clip: float = bounded(50.0, "(0, 1e6]")
    init_size: int = bounded(512, "[1, 1e6]")  # ActNorm's data-dependent initialisation batch
    log_every: int = bounded(200, "[1, 1e7]")  # steps per block of run.loop
    val_eval: int = bounded(1000, "[1, 1e6]")  # validation digits measured after every block
    # Evaluation: as many T = 0.7 samples as the gan record's, so the Fréchet distance compares.
    temperature: float = bounded(0.7, "[0, 10]")  # the paper's samples (sec. 5)
    num_samples: int = bounded(10_000, "[10, 1e6]")
    t1_samples: int = bounded(2000, "[10, 1e6]")  # judged at T = 1, for the comparison
    interpolation_steps: int = bounded(9, "[2, 100]")  # images along each latent path
    judge_run: str = ""  # a finished mnist-cnn run folder; empty: train the judge here
    judge_epochs: int = bounded(3, "[1, 1000]")  # the gan lab's
    # The 2-D figure: RealNVP2d (ActNorm → coupling) on two moons and a ring of 8 Gaussians.
    flow2d_layers: int = bounded(8, "[1, 256]")
    flow2d_hidden: int = bounded(64, "[1, 4096]")
    flow2d_steps: int = bounded(1500, "[1, 1e7]")  # fresh points every step: no overfitting
    flow2d_batch: int = bounded(256, "[1, 1e6]")
    flow2d_learning_rate: float = bounded(2e-3, "(0, 10]")

    def validate(self) -> None:
        side = 8 if self.dataset == "digits" else 28
        if side % 2**self.levels:
            best = max(k for k in range(1, 9) if side % 2**k == 0)
            raise PracticumError(
                f"{side}×{side} images cannot be squeezed {self.levels} times ({side} is not "
                f"divisible by 2^{self.levels} = {2**self.levels}): choose levels <= {best}"
            )
        if self.init_size > 60_000:
            raise PracticumError(f"init_size must be at most 60000, got {self.init_size}")


def footprint(config: Config) -> int:
    """The couplings' weights and activations (a dozen maps of C or ``hidden`` channels a step,
    kept for backward) over the levels, and MNIST in memory."""
    side, k, h = (8 if config.dataset == "digits" else 28), config.steps_per_level, config.hidden
    parameters = activations = 0
    for i in range(config.levels):
        c, pixels = 2 ** (i + 2), (side // 2 ** (i + 1)) ** 2
        parameters += k * (9 * c * h // 2 + h * h + 9 * h * c + c * c)
        activations += k * pixels * (8 * c + 3 * h)
    batch = max(config.batch_size, config.init_size)
    return training_bytes(parameters, batch * activations, MNIST_VALUES)


# ---- model, data and training --------------------------------------------------------------
def build_model(config: Config, side: int) -> Glow:
    return Glow(
        1, config.levels, config.steps_per_level, config.hidden, image_size=side, lu=config.lu
    )


def model_space(x01: torch.Tensor, gen: torch.Generator, bits: int = 8) -> torch.Tensor:
    """Grey values k/255 in [0, 1] (on the CPU) → dequantised to ``bits`` and centred,
    y − ½ ∈ [−½, ½)."""
    return dequantize(x01, gen, bits) - 0.5


def cell_centres(x01: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """The centre of each pixel's dequantisation cell, (k + ½)/2^bits − ½ for the pixel's level
    k at that depth: a noise-free encoding."""
    levels = torch.floor(torch.round(x01 * 255) / 2 ** (8 - bits))
    return (levels + 0.5) / 2**bits - 0.5


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Model space → judge space [0, 1], clamped (a sample can leave the cube). A sample with a
    non-finite pixel (an inverse coupling that divided by a scale near 0: the first full run
    crashed in the Fréchet distance on one) becomes a black image, which the judge scores as
    the failure it is; :func:`nonfinite_fraction` counts them."""
    bad = nonfinite_rows(x)
    x = torch.where(bad.view(-1, *([1] * (x.dim() - 1))), torch.full_like(x, -0.5), x)
    return (x + 0.5).clamp(0, 1)


def nonfinite_rows(x: torch.Tensor) -> torch.Tensor:
    """(N,) True for each sample with a non-finite pixel."""
    return ~torch.isfinite(x).flatten(1).all(dim=1)


def nonfinite_fraction(x: torch.Tensor) -> float:
    """The share of samples with a non-finite pixel, before :func:`to_unit` blanks them."""
    return float(nonfinite_rows(x).double().mean())


def learning_rate(step: int, config: Config) -> float:
    """Linear warm-up to the rate, then constant."""
    if config.warmup and step < config.warmup:
        return config.learning_rate * (step + 1) / config.warmup
    return config.learning_rate


def mean_bits(model: Glow, y: torch.Tensor, bits: int = 8, batch: int = 500) -> float:
    """Mean bits/dim of (centred, dequantised) images ``y`` under the model, in batches."""
    model.eval()
    dims = math.prod(y.shape[1:])
    total = 0.0
    with torch.no_grad():
        for part in y.split(batch):
            total += float(bits_per_dim(model.log_prob(part), dims, bits).double().sum())
    return total / len(y)


@torch.no_grad()
def interpolate(model: Glow, a: torch.Tensor, b: torch.Tensor, count: int) -> torch.Tensor:
    """Encode ``a`` and ``b`` (n images each), interpolate every level's latent linearly in
    ``count`` steps (weights 0, …, 1) and decode: (n, count, C, H, W), whose first and last
    columns are ``a`` and ``b`` again (up to the flow's round-off)."""
    model.eval()
    za, zb = model(a)[0], model(b)[0]
    path = []
    for w in torch.linspace(0, 1, count).tolist():
        path.append(model.inverse([(1 - w) * p + w * q for p, q in zip(za, zb, strict=True)]))
    return torch.stack(path, 1)


@torch.no_grad()
def draw(model: Glow, count: int, temperature: float, seed: int, batch: int = 500) -> torch.Tensor:
    """``count`` samples in model space at ``temperature``, in batches, from their own seed
    (:func:`to_unit` takes them to the judge's [0, 1])."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = [model.sample(min(batch, count - s), temperature, gen) for s in range(0, count, batch)]
    return torch.cat(out)


# ---- 2-D densities ------------------------------------------------------------------------
def two_moons(n: int, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved half circles with Gaussian noise (σ = 0.08), centred."""
    t = rng.uniform(0, math.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t)) - 0.5
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t)) - 0.25
    return np.stack([x, y], 1) + rng.normal(0, 0.08, (n, 2))


RING_RADIUS, RING_STD, RING_MODES = 2.0, 0.15, 8


def ring(n: int, rng: np.random.Generator) -> np.ndarray:
    """A ring of 8 equal Gaussians (radius 2, σ = 0.15)."""
    angle = 2 * math.pi * rng.integers(0, RING_MODES, n) / RING_MODES
    centre = RING_RADIUS * np.stack([np.cos(angle), np.sin(angle)], 1)
    return centre + rng.normal(0, RING_STD, (n, 2))


def ring_log_density(x: np.ndarray) -> np.ndarray:
    """The ring's true log-density, for its NLL floor."""
    angles = 2 * math.pi * np.arange(RING_MODES) / RING_MODES
    centres = RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], 1)
    d2 = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
    log_n = -d2 / (2 * RING_STD**2) - math.log(2 * math.pi * RING_STD**2)
    m = log_n.max(1, keepdims=True)
    return (m + np.log(np.exp(log_n - m).mean(1, keepdims=True)))[:, 0]


DENSITIES = {"moons": two_moons, "ring": ring}


def fit_2d(name: str, config: Config, seed: int, device: str) -> tuple[RealNVP2d, float]:
    """RealNVP2d fitted to fresh points every step; returns it and its test NLL (nats/point)."""
    sampler = DENSITIES[name]
    rng = np.random.default_rng(seed)
    torch.manual_seed(sub_seed(seed, 1))
    flow = RealNVP2d(config.flow2d_layers, config.flow2d_hidden).to(device)

    def batch(n: int) -> torch.Tensor:
        return torch.from_numpy(sampler(n, rng)).float().to(device)

    flow.train()
    with torch.no_grad():
        flow.log_prob(batch(max(2048, config.flow2d_batch)))  # ActNorm's initialisation
    optimizer = torch.optim.Adam(flow.parameters(), lr=config.flow2d_learning_rate)
    for _ in range(config.flow2d_steps):
        loss = -flow.log_prob(batch(config.flow2d_batch)).mean()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
        optimizer.step()
    flow.eval()
    with torch.no_grad():
        nll = float(-flow.log_prob(batch(5000)).mean())
    return flow, nll


# ---- plots -----------------------------------------------------------------------------------
def plot_samples(low: torch.Tensor, high: torch.Tensor, temperature: float, run: Run) -> None:
    fig, axes = figure(2, size=(5.0, 5.3))
    for ax, imgs, t in ((axes[0][0], low, temperature), (axes[0][1], high, 1.0)):
        ax.imshow(image_grid(imgs.cpu(), rows=8), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"samples at T = {t:g}")
        ax.axis("off")
    fig.tight_layout()
    run.save_figure(fig, "samples")


def plot_interpolation(path: torch.Tensor, run: Run) -> None:
    n, k = path.shape[:2]
    fig, ax = figure(size=(0.9 * k + 0.5, 0.95 * n + 0.8))
    grid = image_grid(to_unit(path.reshape(n * k, *path.shape[2:])).cpu(), rows=n)
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
    ax.set_title("latent interpolation: two test digits encoded, z mixed linearly, decoded")
    ax.axis("off")
    run.save_figure(fig, "interpolation")


def plot_curve(history: list[list[float]], test_bits: float, run: Run) -> None:
    fig, ax = figure(size=(6.0, 4.2))
    step, train, val = zip(*history, strict=True)
    ax.plot(step, train, marker=".", label="train (mean over each block)")
    ax.plot(step, val, marker="o", label="validation")
    ax.axhline(test_bits, color="k", ls=":", label=f"test, at the end: {test_bits:.3f}")
    ax.axhline(1.05, color="tab:red", ls="--", lw=1, label="Glow (paper): 1.05")
    ax.set_xlabel("step")
    ax.set_ylabel("bits per dimension")
    ax.set_title("Glow on dequantised digits")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    run.save_figure(fig, "training_curve")


def plot_2d(fits: dict[str, tuple[RealNVP2d, np.ndarray, float]], seed: int, run: Run) -> None:
    fig, axes = figure(3, len(fits), size=(3.6, 3.4))
    for row, (name, (flow, data, nll)) in enumerate(fits.items()):
        lim = 3.0 if name == "ring" else 1.8
        g = np.linspace(-lim, lim, 200)
        xx, yy = np.meshgrid(g, g)
        grid = torch.from_numpy(np.stack([xx.ravel(), yy.ravel()], 1)).float()
        ref = flow.layers[0].bias
        with torch.no_grad():
            density = flow.log_prob(grid.to(ref.device)).exp().cpu().numpy().reshape(200, 200)
        samples = flow.sample(2000, 1.0, torch.Generator().manual_seed(seed)).cpu().numpy()
        a, b, c = axes[row]
        a.scatter(data[:, 0], data[:, 1], s=2, alpha=0.4)
        a.set_title(f"{name}: data")
        b.imshow(density, origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        b.set_title(f"learned density (test NLL {nll:.2f})")
        c.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, color="tab:orange")
        c.set_title("samples")
        for ax in (a, b, c):
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
    fig.suptitle("RealNVP2d (ActNorm → affine coupling) on 2-D densities")
    fig.tight_layout()
    run.save_figure(fig, "densities_2d")


# ---- the lab ---------------------------------------------------------------------------------
def run(config: Config, run: Run) -> dict[str, float]:
    gen = torch.Generator().manual_seed(run.seed)
    data = load_digit_images(config.dataset, config.val_size, run.seed)  # [0, 1], on the CPU
    side, dims = data.image_size, data.num_pixels
    x_train = data.x_train
    val_gen = torch.Generator().manual_seed(sub_seed(run.seed, 2))
    y_val = model_space(data.x_val[: config.val_eval], val_gen, config.bits).to(run.device)

    torch.manual_seed(sub_seed(run.seed, 0))  # the 1×1 convolutions' random rotations
    model = build_model(config, side).to(run.device)
    parameters = count_parameters(model)
    run.print(
        f"Glow: {config.levels} levels × {config.steps_per_level} steps, hidden "
        f"{config.hidden}: {parameters:,} parameters"
    )
    # ActNorm's data-dependent initialisation on one large batch, from its own stream.
    init_gen = torch.Generator().manual_seed(sub_seed(run.seed, 1))
    idx = torch.randperm(len(x_train), generator=init_gen)[: config.init_size]
    model.train()
    with torch.no_grad():
        model.log_prob(model_space(x_train[idx], init_gen, config.bits).to(run.device))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)

    history: list[list[float]] = []  # [step, mean train bits/dim over the block, val bits/dim]
    counter = {"step": 0}
    blocks = math.ceil(config.steps / config.log_every)
    state = {"model": model, "optimizer": optimizer, "gen": gen}
    state |= {"history": history, "counter": counter}
    every = max(1, min(5, blocks // 2))  # about 8 min of the full run; at least twice in any
    for block in run.loop(blocks, state, desc="block", every=every):
        model.train()
        total, count = 0.0, 0
        while counter["step"] < min(config.steps, (block + 1) * config.log_every):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(counter["step"], config)
            idx = torch.randint(len(x_train), (config.batch_size,), generator=gen)
            y = model_space(x_train[idx], gen, config.bits).to(run.device)
            loss = bits_per_dim(model.log_prob(y), dims, config.bits).mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            counter["step"] += 1
            total, count = total + loss.item(), count + 1
        val = mean_bits(model, y_val, config.bits)
        history.append([float(counter["step"]), total / count, val])
        run.log(step=counter["step"], train_bits_per_dim=total / count, val_bits_per_dim=val)
        run.print(f"step {counter['step']}: bits/dim train {total / count:.4f}, val {val:.4f}")
    model.eval()

    # Test bits/dim, once: every test digit, one dequantisation draw.
    test_gen = torch.Generator().manual_seed(sub_seed(run.seed, 3))
    y_test = model_space(data.x_test, test_gen, config.bits).to(run.device)
    test_bits = mean_bits(model, y_test, config.bits)
    run.print(f"test bits/dim {test_bits:.4f} (Glow: 1.05)")
    plot_curve(history, test_bits, run)

    # Samples, judged as the ddpm lab's are.
    judge = obtain_judge(config.dataset, config.judge_epochs, config.judge_run, run)
    x_test = data.x_test.to(run.device)
    raw = draw(model, config.num_samples, config.temperature, sub_seed(run.seed, 4))
    nonfinite = nonfinite_fraction(raw)
    samples = to_unit(raw)
    verdict = judge_samples(judge, samples, x_test)
    fd_real = judge.frechet(data.x_train[: config.num_samples].to(run.device), x_test)
    raw_hot = draw(model, config.t1_samples, 1.0, sub_seed(run.seed, 5))
    nonfinite_t1 = nonfinite_fraction(raw_hot)
    hot = to_unit(raw_hot)
    verdict_t1 = judge_samples(judge, hot, x_test)
    plot_samples(samples[:64], hot[:64], config.temperature, run)
    run.print(
        f"T = {config.temperature:g}: confident {verdict.confident_fraction:.3f}, entropy "
        f"{verdict.class_entropy:.3f}, Fréchet {verdict.frechet_distance:.2f} (real {fd_real:.2f})"
    )

    # Latent interpolation between test digits of different classes (noise-free encodings).
    labels = data.y_test.tolist()
    pairs = [(1, 7), (3, 8), (4, 9), (0, 6), (2, 5)]
    first = {d: labels.index(d) for d in range(10) if d in labels}
    pairs = [(a, b) for a, b in pairs if a in first and b in first]
    ends_a = cell_centres(data.x_test[[first[a] for a, _ in pairs]], config.bits).to(run.device)
    ends_b = cell_centres(data.x_test[[first[b] for _, b in pairs]], config.bits).to(run.device)
    path = interpolate(model, ends_a, ends_b, config.interpolation_steps)
    round_trip = float(
        torch.maximum((path[:, 0] - ends_a).abs().max(), (path[:, -1] - ends_b).abs().max())
    )
    plot_interpolation(path, run)

    # The 2-D figure: the same layers on vectors.
    fits: dict[str, tuple[RealNVP2d, np.ndarray, float]] = {}
    for i, name in enumerate(DENSITIES):
        flow, nll = fit_2d(name, config, sub_seed(run.seed, 6, i), run.device)
        shown = DENSITIES[name](2000, np.random.default_rng(sub_seed(run.seed, 7, i)))
        fits[name] = (flow, shown, nll)
    ring_test = ring(5000, np.random.default_rng(sub_seed(run.seed, 8)))
    ring_floor = float(-ring_log_density(ring_test).mean())
    plot_2d(fits, sub_seed(run.seed, 9), run)

    run.print(f"judge: {judge.source}, test accuracy {judge.test_accuracy:.4f}")
    run.set_params({"model": model, **{name: fit[0] for name, fit in fits.items()}})
    return {
        "test_bits_per_dim": test_bits,
        "val_bits_per_dim": history[-1][2],
        "train_bits_per_dim": history[-1][1],
        "paper_gap_bits_per_dim": test_bits - 1.05,
        "parameters": float(parameters),
        "confident_fraction": verdict.confident_fraction,
        "class_entropy": verdict.class_entropy,
        "frechet_distance": verdict.frechet_distance,
        "frechet_distance_real_vs_real": fd_real,
        "confident_fraction_t1": verdict_t1.confident_fraction,
        "class_entropy_t1": verdict_t1.class_entropy,
        "frechet_distance_t1": verdict_t1.frechet_distance,
        "nonfinite_samples": nonfinite,
        "nonfinite_samples_t1": nonfinite_t1,
        "interpolation_round_trip_error": round_trip,
        "moons_nll": fits["moons"][2],
        "ring_nll": fits["ring"][2],
        "ring_true_nll": ring_floor,
        "judge_test_accuracy": judge.test_accuracy,
        "steps": float(counter["step"]),
    }


LAB = Lab(
    name="glow",
    title="Glow: actnorm, invertible 1×1 convolutions and affine coupling on MNIST",
    source="Kingma & Dhariwal 2018 (NeurIPS, arXiv 1807.03039), Table 2, sec. 3 and 5; "
    "Dinh, Sohl-Dickstein & Bengio 2017 (RealNVP, ICLR, arXiv 1605.08803)",
    courses=("dtu02456",),
    config=Config,
    run=run,
    footprint=footprint,
    quick={
        "dataset": "digits",
        "val_size": 200,
        "levels": 2,
        "steps_per_level": 4,
        "hidden": 32,
        "steps": 300,
        "batch_size": 64,
        "bits": 4,
        "learning_rate": 5e-3,
        "warmup": 30,
        "init_size": 256,
        "log_every": 100,
        "val_eval": 200,
        "num_samples": 500,
        "t1_samples": 500,
        "flow2d_layers": 6,
        "flow2d_hidden": 32,
        "flow2d_steps": 250,
    },
    targets=[
        Target(
            "test_bits_per_dim",
            "<=",
            1.5,
            "Kingma & Dhariwal 2018 Table 2 (MNIST 1.05 bits/dim), relaxed for a model ~160× "
            "smaller trained 3.7 epochs on one CPU thread",
            paper="1.05",
        ),
        Target(
            "confident_fraction",
            ">=",
            0.8,
            "the gan lab's target (DTU 02456 week 7), on samples at T = 0.7",
            paper="no MNIST sample numbers; samples at T = 0.7 (sec. 5, Fig. 8)",
        ),
        Target(
            "class_entropy",
            ">=",
            0.95 * math.log(10),
            "the gan lab's target: every digit drawn (no mode collapse)",
            paper="no MNIST sample numbers",
        ),
    ],
    # Quick (8×8 digits, 4 bits, seed 0, one thread), measured: trained, test bits/dim 2.449,
    # confident fraction 0.242, Fréchet distance 45.0, class entropy 1.871; with
    # --set learning_rate=1e-9 (ActNorm's initialisation only): 4.254, 0.014, 117.9, 1.906 —
    # it misses the first three. The entropy does not tell them apart (noise is judged as many
    # digits too); it stays as a guard against collapse.
    quick_targets=[
        Target("test_bits_per_dim", "<=", 3.0, "quick mode on 4-bit 8×8 digits: a trained flow"),
        Target("confident_fraction", ">=", 0.1, "quick: some samples read as digits"),
        Target("frechet_distance", "<=", 80.0, "quick: closer to digits than the untrained flow"),
        Target("class_entropy", ">=", 0.7 * math.log(10), "quick: many digits drawn (relaxed)"),
    ],
    summary="A small Glow (actnorm, LU 1×1 convolutions, affine couplings, two scales) learns "
    "MNIST's density; samples at T = 0.7 judged by the gan lab's classifier; the same layers "
    "on 2-D densities",
    time_full="35 min",  # planned from the measured step time; not yet run in full
    time_quick="20 s",
)
