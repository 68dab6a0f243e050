"""Protocols on frozen features: what a trained model knows that a random one does not.

Every protocol takes features computed once per evaluation clip and the clips' concept
labels (which training never saw):

- `knn_accuracy`: leave-one-out 5-nearest-neighbour concept accuracy (cosine).
- `linear_probe_accuracy`: a softmax classifier trained on half the clips, tested on the
  rest.
- `retrieval`: video-to-audio retrieval in the projection space: instance recall@k (the
  clip's own audio) and concept top-1 (the nearest audio's concept).
- `sync_accuracy`: how often a clip's video scores its true audio above the same audio
  shifted by half an event spacing, and above it reversed.
- `nmi`: k-means clusters of the features against the concepts (normalised mutual
  information).
- `duplicate_top1`: how often an edited copy's nearest original is its own.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812


def _normalise(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return np.asarray(features / np.maximum(norms, 1e-12))


def knn_accuracy(features: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy with cosine similarity and majority vote."""
    f = _normalise(features)
    sim = f @ f.T
    np.fill_diagonal(sim, -np.inf)
    nearest = np.argsort(-sim, axis=1)[:, :k]
    votes = labels[nearest]
    predicted = np.array([np.bincount(v, minlength=labels.max() + 1).argmax() for v in votes])
    return float((predicted == labels).mean())


def linear_probe_accuracy(
    features: np.ndarray, labels: np.ndarray, seed: int = 0, steps: int = 300
) -> float:
    """Train a softmax classifier on a random half (stratified), test on the other half."""
    rng = np.random.default_rng(seed)
    train = np.zeros(len(labels), bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        train[rng.permutation(members)[: len(members) // 2]] = True
    x = torch.from_numpy(_standardise(features, train)).float()
    y = torch.from_numpy(labels).long()
    classes = int(labels.max()) + 1
    layer = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x[train]), y[train])
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    with torch.no_grad():
        predicted = layer(x[~train]).argmax(dim=1)
    return float((predicted == y[~train]).float().mean())


def _standardise(features: np.ndarray, fit: np.ndarray) -> np.ndarray:
    mean = features[fit].mean(axis=0)
    std = features[fit].std(axis=0) + 1e-6
    return np.asarray((features - mean) / std)


def retrieval(video: np.ndarray, audio: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Video-to-audio: instance R@1 and R@10 (row i's own audio is audio[i]) and concept
    top-1 (the nearest audio belongs to the same concept)."""
    sim = _normalise(video) @ _normalise(audio).T
    order = np.argsort(-sim, axis=1)
    rank = np.argmax(order == np.arange(len(video))[:, None], axis=1)
    return {
        "instance_r1": float((rank < 1).mean()),
        "instance_r10": float((rank < 10).mean()),
        "concept_top1": float((labels[order[:, 0]] == labels).mean()),
    }


def sync_accuracy(
    video: np.ndarray, audio: np.ndarray, shifted: np.ndarray, reversed_: np.ndarray
) -> float:
    """Share of comparisons where the true audio scores above a shifted or reversed copy."""
    v = _normalise(video)
    true = (v * _normalise(audio)).sum(1)
    wins = np.concatenate(
        [true > (v * _normalise(shifted)).sum(1), true > (v * _normalise(reversed_)).sum(1)]
    )
    return float(wins.mean())


def duplicate_top1(originals: np.ndarray, copies: np.ndarray) -> float:
    """How often copy i's nearest original (cosine) is original i."""
    nearest = np.argmax(_normalise(copies) @ _normalise(originals).T, axis=1)
    return float((nearest == np.arange(len(copies))).mean())


def nmi(features: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """k-means (k = number of concepts, cosine, 10 restarts) against the labels."""
    k = len(np.unique(labels))
    clusters = _kmeans(_normalise(features), k, seed)
    return _normalised_mutual_information(labels, clusters)


def _kmeans(x: np.ndarray, k: int, seed: int, restarts: int = 10, iters: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), int), np.inf
    for _ in range(restarts):
        centres = x[rng.choice(len(x), k, replace=False)]
        for _ in range(iters):
            assign = np.argmax(x @ centres.T, axis=1)
            new = np.stack(
                [x[assign == c].mean(0) if (assign == c).any() else centres[c] for c in range(k)]
            )
            new = _normalise(new)
            if np.allclose(new, centres):
                break
            centres = new
        inertia = float(-(x * centres[assign]).sum())
        if inertia < best_inertia:
            best, best_inertia = assign, inertia
    return best


def _normalised_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """NMI with the arithmetic-mean normalisation (as scikit-learn's default)."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    joint /= joint.sum()
    pa, pb = joint.sum(1), joint.sum(0)
    nz = joint > 0
    mutual = float((joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])).sum())
    ha = float(-(pa[pa > 0] * np.log(pa[pa > 0])).sum())
    hb = float(-(pb[pb > 0] * np.log(pb[pb > 0])).sum())
    return mutual / max((ha + hb) / 2, 1e-12) if ha > 0 and hb > 0 else 0.0
