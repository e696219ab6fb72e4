"""A variational autoencoder on binarised MNIST (Kingma & Welling 2014; DTU 02456 week 7).

Model: p(z) = N(0, I), p(x | z) = Bernoulli(decoder(z)) over 784 pixels. Inference network:
q(z | x) = N(μ(x), diag σ²(x)). Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))  ≤  log p(x),

with the expectation estimated by one reparameterised sample z = μ + σ ε (so gradients reach
the encoder) and the KL in closed form. On the test set we report −ELBO and a tighter estimate
of −log p(x), the importance-weighted bound with k samples (Burda et al. 2016):

    log p(x) ≈ log (1/k) Σᵢ p(x | zᵢ) p(zᵢ) / q(zᵢ | x),   zᵢ ~ q(z | x).

Binarisation: each training epoch draws fresh pixels x ~ Bernoulli(grey value) ("dynamic
binarisation", the standard protocol); validation and test sets are binarised once, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

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
    log_mean_exp,
    standard_normal_log_prob,
)
from practicum.plotting import image_grid
from practicum.run import Run


@dataclass
class Config:
    dataset: DigitDataset = "mnist"
    latent_dim: int = bounded(32, "[1, 4096]")
    hidden: tuple[int, ...] = bounded((512, 256), "[1, 65536]")
    epochs: int = bounded(30, "[1, 1000]")
    batch_size: int = bounded(128, "[1, 65536]")
    learning_rate: float = bounded(1e-3, "(0, 10]")
    importance_samples: int = bounded(100, "[1, 100000]")  # k for the importance-weighted NLL
    val_size: int = bounded(5000, "[1, 1e6]")

    def validate(self) -> None:
        if not self.hidden:
            raise PracticumError("hidden must list at least one layer width")


IW_ROWS = 5000  # importance-weighted evaluation decodes k × chunk ≈ this many rows at once


def footprint(config: Config) -> int:
    """Training batches, or the importance-weighted evaluation's decodes, on MNIST."""
    rows = max(config.batch_size, IW_ROWS)
    return encoder_decoder_bytes(784, config.hidden, 2 * config.latent_dim, rows)


class VAE(nn.Module):
    def __init__(self, num_pixels: int, hidden: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = MLPEncoder(num_pixels, hidden, 2 * latent_dim)
        self.decoder = MLPDecoder(latent_dim, tuple(reversed(hidden)), num_pixels)

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        return DiagonalGaussian.from_params(self.encoder(x))

    def elbo_terms(
        self, x: torch.Tensor, gen: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example (reconstruction log-likelihood, KL) with one reparameterised sample."""
        q = self.posterior(x)
        z = q.rsample(generator=gen)
        rec = bernoulli_log_likelihood(self.decoder(z), x.flatten(1))
        return rec, q.kl_standard_normal()

    def importance_weighted_log_likelihood(
        self, x: torch.Tensor, k: int, gen: torch.Generator | None = None
    ) -> torch.Tensor:
        """log p(x) estimated with k importance samples from q(z | x), per example."""
        q = self.posterior(x)
        z = q.rsample(num_samples=k, generator=gen)  # (k, N, d)
        log_px_z = bernoulli_log_likelihood(self.decoder(z), x.flatten(1))  # (k, N)
        log_w = log_px_z + standard_normal_log_prob(z) - q.log_prob(z)
        return log_mean_exp(log_w, dim=0)


def evaluate(
    model: VAE, x: torch.Tensor, gen: torch.Generator, k: int = 0, batch: int = 500
) -> dict[str, float]:
    """Mean −ELBO, reconstruction and KL (nats per image); with k > 0 also the IW NLL."""
    model.eval()
    rec_sum = kl_sum = iw_sum = 0.0
    with torch.no_grad():
        for xb in x.split(batch):
            rec, kl = model.elbo_terms(xb, gen)
            rec_sum += rec.sum().item()
            kl_sum += kl.sum().item()
            if k:
                for chunk in xb.split(max(1, IW_ROWS // k)):  # bound memory: k × chunk decodes
                    iw_sum += model.importance_weighted_log_likelihood(chunk, k, gen).sum().item()
    model.train()
    n = len(x)
    out = {"neg_elbo": (kl_sum - rec_sum) / n, "recon_nll": -rec_sum / n, "kl": kl_sum / n}
    if k:
        out["iw_nll"] = -iw_sum / n
    return out


# ---- plots -----------------------------------------------------------------------------------


def plot_curves(history: list[dict[str, float]], run: Run) -> None:
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (("neg_elbo", "−ELBO"), ("recon_nll", "reconstruction −log p(x|z)")):
        axes[0].plot(epochs, [h[f"train_{key}"] for h in history], label=f"train {label}")
        axes[0].plot(epochs, [h[f"val_{key}"] for h in history], "--", label=f"validation {label}")
    axes[0].axhline(100, color="grey", lw=1, ls=":", label="target: test −ELBO 100")
    axes[0].set_ylabel("nats per image")
    axes[0].set_title("ELBO and its reconstruction term")
    axes[1].plot(epochs, [h["train_kl"] for h in history], label="train KL(q ‖ p)")
    axes[1].plot(epochs, [h["val_kl"] for h in history], "--", label="validation KL(q ‖ p)")
    axes[1].set_ylabel("nats per image")
    axes[1].set_title("KL term")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    run.save_figure(fig, "elbo_curves")


def plot_samples(model: VAE, size: int, gen: torch.Generator, run: Run) -> None:
    import matplotlib.pyplot as plt

    z = torch.randn(100, model.latent_dim, generator=gen).to(next(model.parameters()).device)
    with torch.no_grad():
        means = torch.sigmoid(model.decoder(z)).reshape(100, 1, size, size)
    fig, ax = plt.subplots(figsize=(7, 7.3))
    ax.imshow(image_grid(means, rows=10), cmap="gray", vmin=0, vmax=1)
    ax.set_title("100 samples z ~ N(0, I), shown as pixel probabilities")
    ax.axis("off")
    run.save_figure(fig, "samples")


def plot_traversal(model: VAE, x: torch.Tensor, size: int, run: Run) -> None:
    """Decode μ(x) of one test digit while sweeping each of the most-used latent dimensions."""
    import matplotlib.pyplot as plt

    with torch.no_grad():
        q = model.posterior(x)
        per_dim_kl = 0.5 * (q.mean**2 + q.log_var.exp() - 1 - q.log_var).mean(0)
        dims = per_dim_kl.argsort(descending=True)[:8]
        base = q.mean[0]
        values = torch.linspace(-3, 3, 11, device=base.device)
        rows = []
        for d in dims:
            z = base.repeat(len(values), 1)
            z[:, d] = values
            rows.append(torch.sigmoid(model.decoder(z)).reshape(-1, 1, size, size))
    fig, ax = plt.subplots(figsize=(8, 6.4))
    ax.imshow(image_grid(torch.cat(rows), rows=len(rows)), cmap="gray", vmin=0, vmax=1)
    ax.set_yticks([(size + 1) * (i + 0.5) for i in range(len(dims))])
    ax.set_yticklabels([f"z{int(d)}" for d in dims])
    ax.set_xticks([(size + 1) * (i + 0.5) for i in range(len(values))])
    ax.set_xticklabels([f"{v:.1f}" for v in values.tolist()])
    ax.set_xlabel("value of the swept latent dimension (others fixed at μ(x) of one test digit)")
    ax.set_ylabel("latent dimension (most informative first)")
    ax.set_title("Latent traversal")
    run.save_figure(fig, "latent_traversal")


# ---- the lab ---------------------------------------------------------------------------------


def run(config: Config, run: Run) -> dict[str, float]:
    gen = torch.Generator().manual_seed(run.seed)
    data = load_digit_images(config.dataset, config.val_size, run.seed)
    eval_gen = torch.Generator().manual_seed(run.seed + 1)
    x_val = binarise(data.x_val, eval_gen).to(run.device)
    x_test = binarise(data.x_test, eval_gen).to(run.device)
    x_train = data.x_train.to(run.device)
    size = data.image_size

    torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
    model = VAE(data.num_pixels, config.hidden, config.latent_dim).to(run.device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    history: list[dict[str, float]] = []
    state = {"model": model, "optimizer": opt, "generator": gen, "history": history}
    for epoch in run.loop(config.epochs, state):
        sums = np.zeros(3)
        x_epoch = binarise(x_train, gen)  # dynamic binarisation
        for idx in batch_indices(len(x_epoch), config.batch_size, gen, drop_last=True):
            rec, kl = model.elbo_terms(x_epoch[idx], gen)
            loss = (kl - rec).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sums += [loss.item() * len(idx), -rec.sum().item(), kl.sum().item()]
        n = len(x_epoch) - len(x_epoch) % config.batch_size  # images seen this epoch
        train = dict(zip(("neg_elbo", "recon_nll", "kl"), (sums / n).tolist(), strict=True))
        val = evaluate(model, x_val, torch.Generator().manual_seed(run.seed + 2))
        entry = {"epoch": epoch + 1} | {f"train_{k}": v for k, v in train.items()}
        entry |= {f"val_{k}": v for k, v in val.items()}
        history.append(entry)
        run.log(**entry)
        run.print(
            f"epoch {epoch + 1}: train −ELBO {entry['train_neg_elbo']:.2f}, "
            f"val {val['neg_elbo']:.2f}"
        )

    test = evaluate(
        model, x_test, torch.Generator().manual_seed(run.seed + 3), k=config.importance_samples
    )
    plot_curves(history, run)
    plot_samples(model, size, torch.Generator().manual_seed(run.seed + 4), run)
    plot_traversal(model, x_test[:500], size, run)
    run.set_params(model)
    return {
        "test_neg_elbo": test["neg_elbo"],
        "test_iw_nll": test["iw_nll"],
        "test_recon_nll": test["recon_nll"],
        "test_kl": test["kl"],
        "importance_samples": config.importance_samples,
        "epochs": config.epochs,
    }


LAB = Lab(
    name="vae",
    title="Variational autoencoder on binarised MNIST with an importance-weighted likelihood",
    source="Kingma & Welling 2014; Burda et al. 2016; DTU 02456 week 7",
    courses=("dtu02456",),
    config=Config,
    quick={
        "dataset": "digits",
        "epochs": 40,
        "batch_size": 64,
        "hidden": (128,),
        "latent_dim": 8,
        "val_size": 200,
    },
    targets=[Target("test_neg_elbo", "<=", 100.0, "DTU 02456 week 7")],
    quick_targets=[
        # Independent pixels at their mean grey (what a VAE whose latent is unused can reach)
        # give ≈ 27.0 nats on an 80/20 split of the 8×8 digits; this VAE 24.0 (seed 0).
        Target("test_neg_elbo", "<=", 25.5, "quick: 8×8 digits, below independent pixels"),
        Target("test_kl", ">=", 1.0, "quick: the latent code is used (no posterior collapse)"),
    ],
    summary="A VAE's ELBO splits into reconstruction and KL; the IW bound is tighter than −ELBO",
    time_full="12 min",  # 1 thread
    time_quick="6 s",
    footprint=footprint,
    run=run,
)
