"""The learned critic on constructed sets whose answer is known: accepted and rejected
items cluster around two directions, a critic score decides the label, or the label
is a known probability of the embedding (so calibration can be checked), or pure noise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from workers.critics.learned import (
    MIN_PER_CLASS,
    MIN_TRAIN,
    LearnedModel,
    NotEnoughData,
    expected_calibration_error,
    train,
    uncertainty,
)

DIM = 384
NAMES = ("length", "judge")


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def clusters(n: int, seed: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Accepted items around one random unit direction, rejected around another, with
    noise as large as the signal; critic scores carry nothing."""
    directions = unit(np.random.default_rng(1000).normal(size=(2, DIM)))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    emb = unit(directions[y] + unit(rng.normal(size=(n, DIM))))
    feats = [{"length": float(rng.random()), "judge": None} for _ in range(n)]
    return emb.astype(np.float32), feats, y


def judged(n: int, seed: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """Random embeddings; the judge's score decides the label; some scores missing."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    judge = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.1, n), 0, 1)
    feats = [{"length": float(rng.random()), "judge": float(j)} for j in judge]
    for f in feats[::10]:
        f["judge"] = None
    return unit(rng.normal(size=(n, DIM))).astype(np.float32), feats, y


def soft(n: int, seed: int) -> tuple[np.ndarray, list[dict], np.ndarray]:
    """The label is drawn with P(accept) = sigmoid(3z) where z is the embedding's
    position along one direction: a calibrated model must recover those probabilities."""
    u = unit(np.random.default_rng(1001).normal(size=DIM))
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-3 * z))).astype(int)
    emb = unit(0.5 * z[:, None] * u + rng.normal(size=(n, DIM)) / np.sqrt(DIM))
    return emb.astype(np.float32), [{} for _ in range(n)], y


@pytest.fixture(scope="module")
def clustered() -> LearnedModel:
    emb, feats, y = clusters(120, seed=1)
    return train(emb, feats, y, feature_names=NAMES)


def test_it_needs_enough_decisions_of_each_outcome() -> None:
    emb, feats, y = clusters(MIN_TRAIN - 1, seed=2)
    with pytest.raises(NotEnoughData, match=f"{MIN_TRAIN - 1} decisions.*at least {MIN_TRAIN}"):
        train(emb, feats, y, feature_names=NAMES)

    emb, feats, _ = clusters(60, seed=3)
    with pytest.raises(NotEnoughData, match="60 accepted, 0 rejected"):
        train(emb, feats, [1] * 60, feature_names=NAMES)

    few = [0] * (MIN_PER_CLASS - 1) + [1] * (60 - MIN_PER_CLASS + 1)
    with pytest.raises(NotEnoughData, match=f"{MIN_PER_CLASS} of each outcome"):
        train(emb, feats, few, feature_names=NAMES)


def test_it_trains_at_the_minimum() -> None:
    emb, feats, _ = clusters(MIN_TRAIN, seed=4)
    y = [0] * MIN_PER_CLASS + [1] * (MIN_TRAIN - MIN_PER_CLASS)
    model = train(emb, feats, y, feature_names=NAMES)
    assert model.trained_on == model.quality.n == MIN_TRAIN


def test_it_ranks_held_out_clusters(clustered: LearnedModel) -> None:
    emb, feats, y = clusters(500, seed=5)
    p = clustered.predict(emb, feats)
    assert p.shape == (500,) and ((p >= 0) & (p <= 1)).all()
    assert roc_auc_score(y, p) > 0.9


def test_it_learns_from_critic_scores_with_some_missing() -> None:
    emb, feats, y = judged(200, seed=6)
    model = train(emb, feats, y, feature_names=NAMES)
    emb, feats, y = judged(500, seed=7)
    assert roc_auc_score(y, model.predict(emb, feats)) > 0.9
    assert model.quality.good_enough


def test_its_floor_opens_on_a_separable_set(clustered: LearnedModel) -> None:
    q = clustered.quality
    assert q.good_enough, q.why
    assert q.n == 120 and q.auc is not None and q.auc > 0.9 and q.ece <= 0.1 and q.brier < 0.1
    assert q.why.startswith("good enough")


def test_its_floor_stays_shut_on_random_labels_and_says_why() -> None:
    emb, feats, _ = clusters(200, seed=8)
    y = np.random.default_rng(9).integers(0, 2, 200)
    q = train(emb, feats, y, feature_names=NAMES).quality
    assert not q.good_enough
    assert q.auc is not None and q.auc < 0.75
    assert "AUC" in q.why and "below 0.75" in q.why


def test_its_probabilities_are_calibrated() -> None:
    emb, feats, y = soft(400, seed=10)
    model = train(emb, feats, y, feature_names=())
    assert model.quality.good_enough, model.quality.why

    emb, feats, y = soft(4000, seed=11)
    p = model.predict(emb, feats)
    # In every well-filled tenth of the probability range, the mean predicted accept
    # probability is close to the observed accept rate.
    bins = np.minimum((p * 10).astype(int), 9)
    checked = 0
    for b in range(10):
        inside = bins == b
        if inside.sum() >= 100:
            checked += 1
            assert abs(p[inside].mean() - y[inside].mean()) < 0.1, b
    assert checked >= 5
    assert expected_calibration_error(p, y) < 0.05


def test_it_round_trips_through_json_exactly(clustered: LearnedModel) -> None:
    stored = json.loads(json.dumps(clustered.to_json()))  # as a DB JSON column holds it
    again = LearnedModel.from_json(stored)
    emb, feats, _ = clusters(50, seed=12)
    feats[0] = {"length": None}  # missing scores predict the same as well
    assert np.array_equal(again.predict(emb, feats), clustered.predict(emb, feats))
    assert again.quality == clustered.quality
    assert (again.feature_names, again.dim, again.trained_on) == (NAMES, DIM, 120)
    assert again.to_json() == stored


def test_it_refuses_a_model_of_another_version(clustered: LearnedModel) -> None:
    data = {**clustered.to_json(), "version": "0"}
    with pytest.raises(ValueError, match="retrain"):
        LearnedModel.from_json(data)


def test_it_is_deterministic_given_the_seed() -> None:
    emb, feats, y = clusters(60, seed=13)
    assert (
        train(emb, feats, y, feature_names=NAMES).to_json()
        == train(emb, feats, y, feature_names=NAMES).to_json()
    )


def test_it_refuses_embeddings_of_the_wrong_size(clustered: LearnedModel) -> None:
    with pytest.raises(ValueError, match="shape"):
        clustered.predict(np.zeros((2, 10), dtype=np.float32), [{}, {}])
    with pytest.raises(ValueError, match="2 embeddings but 1 rows"):
        clustered.predict(np.zeros((2, DIM), dtype=np.float32), [{}])


def test_uncertainty_puts_the_closest_to_even_first() -> None:
    p = np.array([0.0, 0.9, 0.5, 0.2, 1.0, 0.55])
    u = uncertainty(p)
    assert u[2] == 1.0 and u[0] == 0.0 and u[4] == 0.0
    assert np.allclose(u, [0.0, 0.2, 1.0, 0.4, 0.0, 0.9])
    assert list(np.argsort(-u, kind="stable")) == [2, 5, 3, 1, 0, 4]
