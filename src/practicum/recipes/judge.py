"""The MNIST classifier that judges generated digits (the gan and ddpm labs).

A generative model of digits has no accuracy to report, so its samples are shown to the
classifier of the ``mnist-cnn`` lab (its program, :mod:`practicum.recipes.image_classifier`),
trained by :func:`train_judge` from the run's seed or loaded from a finished mnist-cnn run by
:func:`load_judge`. :func:`judge_samples` reads three numbers off its outputs:

* confident fraction: the share of samples labelled with probability ≥ 0.9 (do the samples
  look like some digit?);
* class entropy: the entropy of the histogram of predicted labels (ln 10 ≈ 2.303 when all ten
  digits are produced equally often; mode collapse lowers it);
* Fréchet distance between Gaussians fitted to the classifier's penultimate features of the
  samples and of the test set (the idea of the FID, with an MNIST network instead of
  Inception). Two labs that train the judge with the same dataset, epochs and seed measure in
  the same feature space, so their distances compare.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from practicum.data.digits import DigitDataset
from practicum.data.vision import load_digits_uint8
from practicum.errors import PracticumError
from practicum.io import atomic_write
from practicum.nn.generative import categorical_entropy, feature_statistics, frechet_distance
from practicum.recipes import image_classifier
from practicum.run import Run

CONFIDENT = 0.9  # the probability above which a sample counts as a recognised digit


@dataclass
class Judge:
    """A trained classifier and the standardisation its inputs need."""

    model: nn.Module
    mean: float
    std: float
    test_accuracy: float
    source: str

    def standardise(self, images01: torch.Tensor) -> torch.Tensor:
        return (images01 - self.mean) / self.std

    @torch.no_grad()
    def probabilities_and_features(
        self, images01: torch.Tensor, batch: int = 1000
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities and penultimate features (the input of the linear head)."""
        self.model.eval()
        captured: list[torch.Tensor] = []
        hook = self.model.head.register_forward_hook(lambda m, inp, out: captured.append(inp[0]))
        try:
            logits = torch.cat([self.model(self.standardise(x)) for x in images01.split(batch)])
        finally:
            hook.remove()
        return logits.softmax(-1), torch.cat(captured)

    def frechet(self, images01: torch.Tensor, reference01: torch.Tensor) -> float:
        """The Fréchet distance between two sets of images in this judge's feature space."""
        _, a = self.probabilities_and_features(images01)
        _, b = self.probabilities_and_features(reference01)
        return frechet_distance(*feature_statistics(a), *feature_statistics(b))


@dataclass
class Verdict:
    """What the judge makes of a set of samples."""

    labels: torch.Tensor  # the predicted digit of each sample
    confident: torch.Tensor  # bool: predicted with probability ≥ CONFIDENT
    confident_fraction: float
    class_entropy: float  # of the histogram of predicted labels, in nats
    frechet_distance: float  # to the reference images, in the judge's feature space


def judge_samples(judge: Judge, samples01: torch.Tensor, reference01: torch.Tensor) -> Verdict:
    """Judge images in [0, 1] against reference images (the test set)."""
    probs, feats = judge.probabilities_and_features(samples01)
    _, ref_feats = judge.probabilities_and_features(reference01)
    confidence, labels = probs.max(-1)
    confident = confidence >= CONFIDENT
    histogram = torch.bincount(labels, minlength=10).double() / len(labels)
    return Verdict(
        labels=labels,
        confident=confident,
        confident_fraction=confident.float().mean().item(),
        class_entropy=categorical_entropy(histogram).item(),
        frechet_distance=frechet_distance(
            *feature_statistics(feats), *feature_statistics(ref_feats)
        ),
    )


def judge_config(dataset: DigitDataset, epochs: int) -> image_classifier.Config:
    """mnist-cnn's network: its quick configuration on the 8×8 digits, else ``epochs`` on MNIST."""
    if dataset == "digits":
        return image_classifier.Config(**image_classifier.QUICK)
    return image_classifier.Config(epochs=epochs)


def standardisation(judge_cfg: image_classifier.Config, seed: int) -> tuple[float, float]:
    """The mean and std of the training part of mnist-cnn's split, which its ``load_data``
    standardises with (computed here on the [0, 1] scale, as the judge's record was)."""
    from practicum.data import load_mnist, train_val_split

    if judge_cfg.dataset == "digits":
        x_train, y_train, _, _ = load_digits_uint8()
    else:
        x_train, y_train, _, _ = load_mnist(judge_cfg.dataset)
    idx, _ = train_val_split(len(x_train), judge_cfg.val_size, seed, y_train.numpy())
    part = x_train[idx].float() / 255.0
    return part.mean().item(), part.std().item()


def train_judge(dataset: DigitDataset, epochs: int, run: Run) -> Judge:
    """Train mnist-cnn's classifier from ``run.seed`` (+ 7, the stream the gan lab's record
    used) and save its weights as ``checkpoints/judge.pt``."""
    cfg = judge_config(dataset, epochs)
    data = image_classifier.load_data(cfg, run.seed, run.device)
    gen = torch.Generator().manual_seed(run.seed + 7)
    torch.manual_seed(run.seed + 7)
    model = image_classifier.build_model(cfg).to(run.device)
    run.print(f"training the judge (mnist-cnn, {cfg.epochs} epochs on {data.source})")
    # Without `run`, the judge's epochs are not checkpointed: they come after the generative
    # model's last checkpoint, and a resumed run trains the judge again from its own seed.
    image_classifier.train(
        model, cfg, data.x_train, data.y_train, gen, lambda e, s: None, run.progress
    )
    mean, std = standardisation(cfg, run.seed)
    accuracy = image_classifier.accuracy(model, data.x_test, data.y_test)
    atomic_write(run.checkpoints_dir / "judge.pt", lambda f: torch.save(model.state_dict(), f))
    return Judge(model.eval(), mean, std, accuracy, f"trained here ({cfg.epochs} epochs)")


def load_judge(path: str, dataset: DigitDataset, run: Run) -> Judge:
    """The classifier of a finished mnist-cnn run folder (weights loaded with weights_only)."""
    folder = Path(path).expanduser()
    cfg_path, weights = folder / "config.json", folder / "checkpoints" / "model.pt"
    if not cfg_path.is_file() or not weights.is_file():
        raise PracticumError(f"{folder} is not a finished mnist-cnn run (config.json, model.pt)")
    saved = json.loads(cfg_path.read_text())
    if saved.get("lab") != "mnist-cnn":
        raise PracticumError(f"{folder} is a {saved.get('lab')!r} run, not mnist-cnn")
    fields = saved["config"]
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    cfg = image_classifier.Config(**fields)
    if (cfg.dataset == "digits") != (dataset == "digits"):
        raise PracticumError(f"the judge was trained on {cfg.dataset}, the samples are {dataset}")
    model = image_classifier.build_model(cfg).to(run.device)
    try:
        model.load_state_dict(torch.load(weights, map_location=run.device, weights_only=True))
    except (RuntimeError, OSError, EOFError) as exc:
        raise PracticumError(f"cannot load {weights}: {str(exc).splitlines()[0]}") from None
    mean, std = standardisation(cfg, int(saved["seed"]))
    data = image_classifier.load_data(cfg, int(saved["seed"]), run.device)
    accuracy = image_classifier.accuracy(model, data.x_test, data.y_test)
    return Judge(model.eval(), mean, std, accuracy, f"loaded from {folder}")


def obtain_judge(dataset: DigitDataset, epochs: int, judge_run: str, run: Run) -> Judge:
    """Train the judge here, or load it from ``judge_run`` when that names a folder."""
    if judge_run:
        return load_judge(judge_run, dataset, run)
    return train_judge(dataset, epochs, run)
