"""Denoising diffusion probabilistic models (Ho, Jain & Abbeel 2020) and the DDIM sampler
(Song, Meng & Ermon 2021).

The forward process adds Gaussian noise in T steps, q(x_t | x_{t−1}) = N(√(1 − β_t) x_{t−1},
β_t I). With α_t = 1 − β_t and ᾱ_t = ∏_{s ≤ t} α_s it has the closed form (Ho et al. eq. 4)

    q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I),

and its reverse given x_0 is Gaussian too (eqs. 6-7):

    q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I),
    μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t,
    β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t.

A network ε_θ(x_t, t) predicts the noise in x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε and is trained on
the simple loss ‖ε − ε_θ(x_t, t)‖² with t uniform in {1, …, T} (eq. 14, Algorithm 1).
Ancestral sampling (Algorithm 2) steps x_{t−1} = (x_t − β_t / √(1 − ᾱ_t) ε_θ) / √α_t + σ_t z
from t = T down to 1; DDIM walks a subsequence τ of the times with a step whose noise is η
times the ancestral one (Song et al. eq. 12 and 16): η = 0 is deterministic, and η = 1 on
every time is the ancestral sampler with σ_t² = β̃_t.

Times are the paper's, t ∈ {0, 1, …, T}: the schedule's arrays have T + 1 entries, with
β_0 = 0 and ᾱ_0 = 1 (x_0 is the data), so index t is time t. Schedules are held in float64
and a step's coefficients are cast to the images' dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

#: Called on every reverse step with (t, x_t, the predicted x_0) — for figures of the process.
StepHook = Callable[[int, torch.Tensor, torch.Tensor], None]


def linear_betas(timesteps: int, beta_1: float = 1e-4, beta_T: float = 0.02) -> torch.Tensor:
    """β_1, …, β_T evenly spaced from ``beta_1`` to ``beta_T`` (Ho et al. 2020, sec. 4:
    10⁻⁴ to 0.02 over T = 1000), float64."""
    if timesteps < 1 or not 0 < beta_1 <= beta_T < 1:
        raise ValueError(f"need T >= 1 and 0 < beta_1 <= beta_T < 1, got {timesteps=}")
    return torch.linspace(beta_1, beta_T, timesteps, dtype=torch.float64)


@dataclass(frozen=True)
class Schedule:
    """β_t, α_t and ᾱ_t for t = 0, …, T (index t is time t; β_0 = 0, ᾱ_0 = 1)."""

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> Schedule:
        """The schedule of β_1, …, β_T (a 1-D tensor)."""
        b = torch.cat([torch.zeros(1, dtype=torch.float64), betas.double()])
        a = 1.0 - b
        return cls(betas=b, alphas=a, alpha_bars=torch.cumprod(a, 0))

    @classmethod
    def linear(cls, timesteps: int, beta_1: float = 1e-4, beta_T: float = 0.02) -> Schedule:
        return cls.from_betas(linear_betas(timesteps, beta_1, beta_T))

    @property
    def T(self) -> int:
        return len(self.betas) - 1

    def _at(self, values: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """values[t] shaped to broadcast over a batch ``like`` (N, ...), in its dtype."""
        idx = torch.as_tensor(t, dtype=torch.long).cpu()
        out = values[idx].to(dtype=like.dtype, device=like.device)
        return out.reshape(out.shape + (1,) * (like.ndim - out.ndim))

    # ---- the forward process -------------------------------------------------------------

    def q_mean_var(
        self, x0: torch.Tensor, t: torch.Tensor | int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean √ᾱ_t x_0 and variance 1 − ᾱ_t of q(x_t | x_0) (eq. 4)."""
        ab = self._at(self.alpha_bars, t, x0)
        return ab.sqrt() * x0, (1.0 - ab).expand_as(x0)

    def q_sample(
        self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor
    ) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε: a draw of q(x_t | x_0) given ε."""
        ab = self._at(self.alpha_bars, t, x0)
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def posterior(
        self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor | int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean μ̃_t(x_t, x_0) and variance β̃_t of q(x_{t−1} | x_t, x_0) (eqs. 6-7), t ≥ 1."""
        b, a = self._at(self.betas, t, x0), self._at(self.alphas, t, x0)
        ab = self._at(self.alpha_bars, t, x0)
        ab_prev = self._at(self.alpha_bars, torch.as_tensor(t) - 1, x0)
        mean = (ab_prev.sqrt() * b * x0 + a.sqrt() * (1.0 - ab_prev) * xt) / (1.0 - ab)
        return mean, ((1.0 - ab_prev) / (1.0 - ab) * b).expand_as(x0)

    def predict_x0(
        self, xt: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor
    ) -> torch.Tensor:
        """x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t: eq. 4 solved for x_0."""
        ab = self._at(self.alpha_bars, t, xt)
        return (xt - (1.0 - ab).sqrt() * eps) / ab.sqrt()

    def reverse_mean(
        self, xt: torch.Tensor, t: torch.Tensor | int, eps: torch.Tensor
    ) -> torch.Tensor:
        """μ_θ = (x_t − β_t / √(1 − ᾱ_t) ε_θ) / √α_t (eq. 11): μ̃_t at the predicted x_0."""
        b, a = self._at(self.betas, t, xt), self._at(self.alphas, t, xt)
        ab = self._at(self.alpha_bars, t, xt)
        return (xt - b / (1.0 - ab).sqrt() * eps) / a.sqrt()

    def sigma2(self, t: int, kind: str = "beta") -> float:
        """The reverse step's variance σ_t²: β_t (``"beta"``, right for x_0 ~ N(0, I)) or β̃_t
        (``"beta_tilde"``, right for a fixed x_0); Ho et al. sec. 3.2 found them alike."""
        if kind == "beta":
            return float(self.betas[t])
        if kind == "beta_tilde":
            return float((1 - self.alpha_bars[t - 1]) / (1 - self.alpha_bars[t]) * self.betas[t])
        raise ValueError(f"unknown variance {kind!r} (beta or beta_tilde)")


# ---- the loss ----------------------------------------------------------------------------


def simple_loss(
    model: nn.Module, x0: torch.Tensor, schedule: Schedule, gen: torch.Generator
) -> torch.Tensor:
    """L_simple (eq. 14): the mean over a batch, and over pixels, of ‖ε − ε_θ(x_t, t)‖² with
    t ~ U{1, …, T} and ε ~ N(0, I) drawn from the CPU generator ``gen``."""
    n = len(x0)
    t = torch.randint(1, schedule.T + 1, (n,), generator=gen)
    noise = torch.randn(x0.shape, generator=gen).to(x0.device)
    t = t.to(x0.device)
    return (noise - model(schedule.q_sample(x0, t, noise), t)).pow(2).mean()


# ---- sampling ----------------------------------------------------------------------------


def _noise(shape: Sequence[int], gen: torch.Generator, device: torch.device | str) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=gen).to(device)


@torch.no_grad()
def ancestral_sample(
    model: nn.Module,
    schedule: Schedule,
    shape: Sequence[int],
    gen: torch.Generator,
    variance: str = "beta",
    clip: bool = False,
    device: torch.device | str = "cpu",
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """Algorithm 2: x_T ~ N(0, I); x_{t−1} = μ_θ(x_t, t) + σ_t z for t = T, …, 1 (no noise at
    the last step). With ``clip`` the mean is μ̃_t at x̂_0 clipped to [−1, 1], as the
    authors' released code samples; without it, eq. 11 exactly."""
    x = _noise(shape, gen, device)
    for t in range(schedule.T, 0, -1):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=device)
        eps = model(x, tt)
        x0 = schedule.predict_x0(x, t, eps)
        if clip:
            x0 = x0.clamp(-1, 1)
            mean = schedule.posterior(x0, x, t)[0]
        else:
            mean = schedule.reverse_mean(x, t, eps)
        if on_step is not None:
            on_step(t, x, x0)
        z = _noise(shape, gen, device) if t > 1 else torch.zeros_like(x)
        x = mean + schedule.sigma2(t, variance) ** 0.5 * z
    return x


def ddim_times(timesteps: int, steps: int) -> list[int]:
    """τ: ``steps`` times from T down to 1, evenly spaced (Song et al. sec. 5's linear
    subsequence), always starting at T."""
    if not 1 <= steps <= timesteps:
        raise ValueError(f"need 1 <= steps <= T, got {steps} of {timesteps}")
    grid = torch.linspace(timesteps, 1, steps, dtype=torch.float64).round().long()
    return [int(t) for t in grid]


def ddim_sigma(schedule: Schedule, t: int, t_prev: int, eta: float) -> float:
    """σ of the step t -> t_prev (Song et al. eq. 16): η √((1 − ᾱ_prev)/(1 − ᾱ_t))
    √(1 − ᾱ_t/ᾱ_prev). With t_prev = t − 1 and η = 1 its square is β̃_t."""
    ab, ab_prev = schedule.alpha_bars[t], schedule.alpha_bars[t_prev]
    return float(eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt())


def ddim_step(
    schedule: Schedule,
    x: torch.Tensor,
    t: int,
    t_prev: int,
    eps: torch.Tensor,
    eta: float,
    z: torch.Tensor,
    clip: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of Song et al. eq. 12 from time t to t_prev < t: returns (x_prev, x̂_0)."""
    x0 = schedule.predict_x0(x, t, eps)
    if clip:
        x0 = x0.clamp(-1, 1)
        # the noise direction consistent with the clipped x̂_0
        eps = (x - schedule._at(schedule.alpha_bars, t, x).sqrt() * x0) / schedule._at(
            1 - schedule.alpha_bars, t, x
        ).sqrt()
    sigma = ddim_sigma(schedule, t, t_prev, eta)
    ab_prev = float(schedule.alpha_bars[t_prev])
    direction = max(1.0 - ab_prev - sigma**2, 0.0) ** 0.5
    return ab_prev**0.5 * x0 + direction * eps + sigma * z, x0


@torch.no_grad()
def ddim_sample(
    model: nn.Module,
    schedule: Schedule,
    shape: Sequence[int],
    gen: torch.Generator,
    steps: int,
    eta: float = 0.0,
    clip: bool = False,
    device: torch.device | str = "cpu",
    on_step: StepHook | None = None,
) -> torch.Tensor:
    """DDIM: x_T ~ N(0, I), then eq. 12 along τ = ddim_times(T, steps) and on to time 0.

    The noise z is drawn only where η > 0, so η = 0 draws nothing after x_T."""
    x = _noise(shape, gen, device)
    times = ddim_times(schedule.T, steps)
    for t, t_prev in zip(times, times[1:] + [0], strict=True):
        tt = torch.full((shape[0],), t, dtype=torch.long, device=device)
        eps = model(x, tt)
        z = _noise(shape, gen, device) if eta > 0 and t_prev > 0 else torch.zeros_like(x)
        x_next, x0 = ddim_step(schedule, x, t, t_prev, eps, eta, z, clip)
        if on_step is not None:
            on_step(t, x, x0)
        x = x_next
    return x
