"""Selection time: 50 of 100,000 embeddings through the pipeline's `select`, beside
lightly-mundig called directly on the same arrays, in the same run.

    .venv/bin/python benchmarks/selection_time.py [--n 100000] [--dim 64] [--select 50]
"""

from __future__ import annotations

import argparse
import time

import lightly_mundig
import numpy as np
import pandas as pd

from bps_labeler.selection.engine import select
from bps_labeler.selection.pool import Pool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--select", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    names = [f"img_{i:06d}.jpg" for i in range(args.n)]
    particle = np.where(rng.uniform(size=args.n) < 0.5, "Fe", "X-ray")
    meta = pd.DataFrame({"filename": names, "particle_type": particle}).set_index("filename")
    p = rng.uniform(size=args.n)
    pool = Pool(names, emb, meta, np.stack([p, 1 - p], axis=1), categories=("track", "no track"))
    diversity = {"input": {"type": "EMBEDDINGS"}, "strategy": {"type": "DIVERSITY"}}
    balance = {
        "input": {"type": "METADATA", "key": "particle_type"},
        "strategy": {"type": "BALANCE", "target": {"Fe": 0.5, "X-ray": 0.5}},
    }
    entropy = {
        "input": {"type": "SCORES", "task": "bps-classification", "score": "uncertainty_entropy"},
        "strategy": {"type": "WEIGHTS"},
    }
    print(f"select {args.select} of {args.n:,} embeddings ({args.dim}-d)")
    for label, strategies in (
        ("DIVERSITY", [diversity]),
        ("DIVERSITY + BALANCE", [diversity, balance]),
        ("WEIGHTS(entropy) + DIVERSITY", [entropy, diversity]),
    ):
        t = time.perf_counter()
        ours = select({"n_samples": args.select, "strategies": strategies}, pool, [])
        t_ours = time.perf_counter() - t

        t = time.perf_counter()
        engine = lightly_mundig.Selection()
        for s in strategies:
            kind = s["strategy"]["type"]
            if kind == "DIVERSITY":
                engine.add_diversifying_strategy(emb, 1.0, None)
            elif kind == "BALANCE":
                dist = np.stack([particle == "Fe", particle == "X-ray"], axis=1).astype(np.float32)
                engine.add_balancing_strategy(dist, [0.5, 0.5], 1.0)
            else:
                engine.add_weighting_strategy(pool.scores["uncertainty_entropy"].tolist(), 1.0)
        direct = engine.run_selection([], args.n, args.select)
        t_direct = time.perf_counter() - t
        same = [names[i] for i in direct] == ours
        print(f"  {label:30s} pipeline {t_ours:6.2f} s   mundig direct {t_direct:6.2f} s   same picks: {same}")


if __name__ == "__main__":
    main()
