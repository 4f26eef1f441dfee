"""Train the router's model: logistic regression on hashed inputs, written as a data file.

    python bench/train_router.py            # cross-validate, fit, report, write the model
    python bench/train_router.py --cv-only  # model selection only: no held-aside sets read
    python bench/train_router.py --reserve  # also score the reserve held-aside set

Fits on bench/router_data/train.jsonl only. The L2 strength and the hard class's share
of the weight are picked by 5-fold cross-validation on that file; the held-aside sets
(bench/router_data/test.jsonl, and test2.jsonl with --reserve) are scored after the
fit and never feed back into it. Deterministic: fixed folds, a Newton-CG solver with
no randomness, weights rounded before they are written (a rerun writes the same file
byte for byte). About 11 minutes on 2 cores, nearly all of it cross-validation.

NumPy is needed here only; the router reads the file with plain Python
(rung.tiers.router.TrainedModel), so the printed numbers are the ones Rung gets.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from rung.tiers import router
from rung.tiers.base import ChatRequest, Message
from rung.tiers.router import Rung, bucket, choose, features, model_inputs

DATA = Path(__file__).resolve().parent / "router_data"
OUT = Path(router.__file__).with_name("router_model.json")
BUCKETS = 1 << 20  # few collisions for unseen words; the file stores only non-zero buckets
LAMBDAS = (3e-5, 1e-4, 3e-4)  # L2 strengths tried by cross-validation
# The hard class's share of the training weight. Above 0.5 buys hard-prompt recall with
# quick-prompt precision: a hard prompt left on the 135M model costs the user a bad
# answer and a redo, a quick one sent up costs a fraction of a cent.
HARD_SHARES = (0.5, 0.55, 0.6, 0.65, 0.7)
FOLDS = 5
SCALE = 1000  # weights are stored as integers in thousandths: a third of the file size
TWO = [Rung("local", "local"), Rung("api", "api")]


def load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def request(prompt: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", prompt),))


def design(rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Dense matrix over the buckets the training rows use (a few thousand columns)."""
    hashed = []
    for r in rows:
        req = request(r["prompt"])
        x: dict[int, float] = {}
        for name, value in model_inputs(req, features(req)).items():
            b = bucket(name, BUCKETS)
            x[b] = x.get(b, 0.0) + value  # colliding inputs share a weight, as at run time
        hashed.append(x)
    columns = sorted({b for x in hashed for b in x})
    where = {b: j for j, b in enumerate(columns)}
    matrix = np.zeros((len(rows), len(columns)))
    for i, x in enumerate(hashed):
        for b, value in x.items():
            matrix[i, where[b]] = value
    y = np.array([1.0 if r["label"] == "hard" else 0.0 for r in rows])
    return matrix, y, columns


def fit(
    x: np.ndarray, y: np.ndarray, lam: float, hard_share: float = 0.5
) -> tuple[float, np.ndarray]:
    """Minimise the class-weighted mean log-loss + lam/2 |w|^2 (bias not penalised) by
    Newton-CG. The hard class carries ``hard_share`` of the total weight whatever the
    number of prompts we happened to write for each class."""
    n, d = x.shape
    share = np.where(y == 1, hard_share / y.sum(), (1 - hard_share) / (n - y.sum())) * n
    xb = np.hstack([x, np.ones((n, 1))])  # last column: the bias
    reg = np.full(d + 1, lam)
    reg[-1] = 0.0
    theta = np.zeros(d + 1)
    for _ in range(30):
        p = 1.0 / (1.0 + np.exp(-(xb @ theta)))
        grad = xb.T @ (share * (p - y)) / n + reg * theta
        if np.linalg.norm(grad) < 1e-8:
            break
        curve = share * p * (1.0 - p) / n

        def hess(v: np.ndarray, curve: np.ndarray = curve) -> np.ndarray:
            return xb.T @ (curve * (xb @ v)) + reg * v + 1e-10 * v

        # Conjugate gradient for the Newton step H s = -grad.
        step = np.zeros(d + 1)
        r = -grad
        direction = r.copy()
        rs = r @ r
        for _ in range(200):
            hd = hess(direction)
            alpha = rs / (direction @ hd)
            step += alpha * direction
            r -= alpha * hd
            rs_new = r @ r
            if np.sqrt(rs_new) < 1e-10:
                break
            direction = r + (rs_new / rs) * direction
            rs = rs_new
        theta += step
    return float(theta[-1]), theta[:-1]


def rates(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Share of hard prompts above 0.5 (escalated), of quick ones below (kept local)."""
    hard, quick = y == 1, y == 0
    return float(np.mean(p[hard] >= 0.5)), float(np.mean(p[quick] < 0.5))


def cross_validate(x: np.ndarray, y: np.ndarray) -> dict[tuple[float, float], tuple[float, ...]]:
    """Out-of-fold log-loss and rates for each (lambda, hard share)."""
    order = np.random.default_rng(0).permutation(len(y))  # fixed folds
    folds = np.array_split(order, FOLDS)
    results = {}
    for lam in LAMBDAS:
        for hard_share in HARD_SHARES:
            p = np.zeros(len(y))
            for k in range(FOLDS):
                test = folds[k]
                train = np.concatenate([folds[j] for j in range(FOLDS) if j != k])
                bias, w = fit(x[train], y[train], lam, hard_share)
                p[test] = 1.0 / (1.0 + np.exp(-(x[test] @ w + bias)))
            eps = 1e-12
            loss = float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))
            results[lam, hard_share] = (loss, *rates(p, y))
    return results


def report(name: str, rows: list[dict[str, str]]) -> None:
    """Scored through choose() with the written file: what Rung itself will decide."""
    hard = [r for r in rows if r["label"] == "hard"]
    quick = [r for r in rows if r["label"] == "quick"]
    up = [choose(request(r["prompt"]), TWO).rung > 0 for r in hard]
    kept = [choose(request(r["prompt"]), TWO).rung == 0 for r in quick]
    print(
        f"{name:<22} {len(rows):4} prompts  hard escalated {sum(up):3}/{len(up):<3} "
        f"({sum(up) / len(up):6.1%})  quick kept local {sum(kept):3}/{len(kept):<3} "
        f"({sum(kept) / len(kept):6.1%})"
    )
    for r, ok in [*zip(hard, up, strict=True), *zip(quick, kept, strict=True)]:
        if not ok:
            print(f"    miss ({r['label']}): {r['prompt'][:90]!r}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cv-only", action="store_true", help="select the model, read no test set")
    parser.add_argument(
        "--reserve", action="store_true", help="also score test2.jsonl, the reserve held-aside set"
    )
    args = parser.parse_args()

    rows = load(DATA / "train.jsonl")
    x, y, columns = design(rows)
    print(f"train: {len(rows)} prompts ({int(y.sum())} hard), {len(columns)} hashed inputs used")
    cv = cross_validate(x, y)
    for (lam, share), (loss, up, kept) in cv.items():
        print(f"  cv lambda {lam:<6g} hard share {share:.2f}: log-loss {loss:.3f}  "
              f"hard up {up:6.1%}  quick kept {kept:6.1%}")  # fmt: skip
    # The target is both rates at once, so the worse of the two decides.
    lam, share = max(cv, key=lambda k: (min(cv[k][1:]), -cv[k][0]))
    loss, up, kept = cv[lam, share]
    print(f"chosen: lambda {lam:g}, hard share {share:.2f} (best worse-of-two cross-validated "
          f"rate: hard up {up:.1%}, quick kept {kept:.1%})")  # fmt: skip
    if args.cv_only:
        return 0

    bias, w = fit(x, y, lam, share)
    keep = [(columns[j], round(float(w[j]) * SCALE)) for j in range(len(w))]
    keep = [(b, v) for b, v in keep if v]  # under half a thousandth: no decision moves
    model = {
        "inputs_version": router.MODEL_INPUTS_VERSION,
        "buckets": BUCKETS,
        "about": "logistic regression; weight of bucket crc32(input name) % buckets is "
        "weight[i] / scale at bucket sum(index_delta[: i + 1])",
        "trained_on": f"bench/router_data/train.jsonl ({len(rows)} prompts)",
        "l2": lam,
        "hard_share": share,
        "cv_hard_up": round(up, 4),
        "cv_quick_kept": round(kept, 4),
        "bias": round(bias, 4),
        "scale": SCALE,
        "index_delta": [b - a for a, b in itertools.pairwise([0, *(b for b, _ in keep)])],
        "weight": [v for _, v in keep],
    }
    OUT.write_text(json.dumps(model, separators=(",", ":")) + "\n")
    print(f"wrote {OUT.name}: {len(keep)} weights, {OUT.stat().st_size / 1024:.0f} KB")

    router.trained_model.cache_clear()  # score through the file just written
    if router.trained_model() is None:
        print("the written model does not load", file=sys.stderr)
        return 1
    report("train (seen)", rows)
    report("held-aside test.jsonl", load(DATA / "test.jsonl"))
    if args.reserve:
        report("held-aside test2.jsonl", load(DATA / "test2.jsonl"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
