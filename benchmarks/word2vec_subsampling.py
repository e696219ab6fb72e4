"""Wall time of one skip-gram epoch with and without frequent-word subsampling: ours
(practicum.wordvec) and gensim's Word2Vec, on the word2vec lab's corpus.

Mikolov et al. 2013b (Sec. 2.3) report "a significant speedup (around 2x - 10x)" from
subsampling; the word2vec lab judges that claim as training work (pairs per epoch, a count).
This measures the clock beside it: each configuration trains one epoch, the four
configurations alternate over ``--rounds`` rounds so that a busy machine slows all alike, and
the median per configuration is reported. The ratio is time without subsampling / time with
t = ``--sample``, for each implementation.

    PRACTICUM_DATA=... .venv/bin/python benchmarks/word2vec_subsampling.py [--corpus lee]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import gensim
import numpy as np
import torch

from practicum.io import atomic_write_json
from practicum.labs.papers import word2vec as lab
from practicum.repro import cpu_name
from practicum.wordvec import Phrases, Vocabulary

RESULT = Path(__file__).parent / "results" / "word2vec_subsampling.json"


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=["english", "lee"], default="english")
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = lab.Config(corpus=args.corpus, epochs=1)
    sentences, _ = lab.load_sentences(config, 0)
    sentences, _ = Phrases.passes(sentences, config.phrase_thresholds, config.phrase_min_count)
    vocab = Vocabulary.build(sentences, config.min_count)
    ids = vocab.encode(sentences)
    runs = {
        ("ours", 0.0): lambda: timed(lab.train_ours, config, ids, vocab.counts, 0.0, 0),
        ("ours", args.sample): lambda: timed(
            lab.train_ours, config, ids, vocab.counts, args.sample, 0
        ),
        ("gensim", 0.0): lambda: timed(lab.train_gensim, config, sentences, 0.0, 1),
        ("gensim", args.sample): lambda: timed(lab.train_gensim, config, sentences, args.sample, 1),
    }
    times: dict[tuple[str, float], list[float]] = {k: [] for k in runs}
    for _ in range(args.rounds):
        for key, fn in runs.items():
            times[key].append(fn())
    median = {k: statistics.median(v) for k, v in times.items()}
    results = {
        name: {
            "epoch_s_without": round(median[(name, 0.0)], 3),
            "epoch_s_with": round(median[(name, args.sample)], 3),
            "speedup": round(median[(name, 0.0)] / median[(name, args.sample)], 3),
            "runs_s": {
                "without": [round(t, 3) for t in times[(name, 0.0)]],
                "with": [round(t, 3) for t in times[(name, args.sample)]],
            },
        }
        for name in ("ours", "gensim")
    }
    ratio = results["ours"]["speedup"]
    result = {
        "benchmark": f"one skip-gram epoch with and without subsampling (t = {args.sample:g}) "
        f"on the word2vec lab's {args.corpus} corpus ({sum(map(len, sentences)):,} tokens)",
        "machine": {
            "cpu": cpu_name(),
            "cpu_count": os.cpu_count(),
            "torch_threads": 1,
            "platform": platform.platform(),
            "note": "cores may be shared with other jobs; the configurations alternate",
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "gensim": gensim.__version__,
        },
        "results": results,
        "ratio": ratio,
        "ratio_meaning": "median epoch time without subsampling / with it, ours "
        "(gensim's in results)",
        "goal": {"ratio": ">= 2 (Mikolov et al. 2013b: 2x-10x)", "met": bool(ratio >= 2)},
    }
    atomic_write_json(args.out, result)
    print(f"ours {ratio:.2f}x, gensim {results['gensim']['speedup']:.2f}x -> {args.out}")


if __name__ == "__main__":
    main()
