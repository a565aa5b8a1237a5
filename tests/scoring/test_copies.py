"""Copies of real and held-out data, found through the database: the Python FAQ imported as
a train and a held-out source, candidates imported into a campaign and scored by the real
critic panel (MinHash bands, held-out n-grams and MiniLM embeddings stored in the tables).
Good, novel answers on the same topics must reach review."""

from __future__ import annotations

import json
import random
import re

import pytest

from curation.campaigns.config import parse_config
from curation.campaigns.imports import candidates_import
from curation.campaigns.models import CandidateStatus
from curation.campaigns.services import campaign_create_or_update
from curation.scoring import indexes
from curation.scoring.models import CriticScore, LshBand, TextEmbedding, TextSignature
from curation.scoring.services import candidates_score
from curation.sources.services import examples_import
from tests.conftest import DATA

FAQ = DATA.parent.parent / "curation" / "demo" / "data" / "python_faq.jsonl"
ROWS = [json.loads(line) for line in FAQ.read_text(encoding="utf-8").splitlines()]
TRAIN, HELDOUT = ROWS[:140], ROWS[140:]
FILLER = ["really", "quite", "simply", "usually", "mostly", "often", "indeed", "certainly"]

# Written for this test: right answers on FAQ topics, in words of their own.
NOVEL = [
    (
        "How do I read a file line by line?",
        "Open the file in a with block and loop over the file object "
        "itself. Each iteration yields one line including its newline, so call rstrip when you do not want "
        "it. The with block closes the file even when the loop raises.",
    ),
    (
        "What is the difference between a list and a tuple?",
        "Lists are mutable sequences meant for "
        "collections that grow or change; tuples are immutable, so they can serve as dictionary keys and "
        "signal that the positions have fixed meanings, like a record with a name and an age.",
    ),
    (
        "How can I make my script faster?",
        "Profile first with cProfile to find where the time really "
        "goes. Then move work out of inner loops, prefer built-in functions and comprehensions, cache "
        "results that repeat, and reach for NumPy or a compiled extension only for the hot spots.",
    ),
    (
        "Why does my default argument keep its value between calls?",
        "Default values are evaluated once, "
        "when the def statement runs, and the same object is reused by every call. A mutable default such "
        "as an empty list therefore accumulates changes; use None and create the list inside the function.",
    ),
    (
        "How do I copy a dictionary?",
        "Call the copy method or pass the dictionary to dict() for a "
        "shallow copy, which shares the nested values with the original. When the values are themselves "
        "dictionaries or lists that you mean to change, use copy.deepcopy instead.",
    ),
]


def _words(text: str) -> list[str]:
    return text.split()


def reworded(text: str, every: int, seed: int = 0) -> str:
    """One word in `every` replaced, as a light paraphrase would."""
    rng = random.Random(seed)
    words = _words(text)
    for i in range(every // 2, len(words), every):
        words[i] = rng.choice(FILLER)
    return " ".join(words)


def reordered(text: str) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(reversed(sentences)).upper().replace(",", "")


def head(text: str, share: float) -> str:
    words = _words(text)
    return " ".join(words[: int(len(words) * share)])


def long_rows(rows: list[dict], n: int, min_words: int = 60) -> list[dict]:
    return [r for r in rows if len(_words(r["response"])) >= min_words][:n]


@pytest.fixture
def faq(db, tmp_path):
    for name, split, rows in (("pyfaq", "train", TRAIN), ("pyfaq-heldout", "heldout", HELDOUT)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        examples_import(path=path, source_name=name, split=split)
    campaign, _ = campaign_create_or_update(
        config=parse_config({"slug": "faq", "source": "pyfaq", "count": 1})
    )
    return campaign


def score(campaign, cases: list[tuple[str, str, str]], tmp_path) -> dict[str, object]:
    """Import (prompt, response) cases named by their first element and score them."""
    path = tmp_path / "candidates.jsonl"
    path.write_text(
        "".join(json.dumps({"id": name, "prompt": p, "response": r}) + "\n" for name, p, r in cases),
        encoding="utf-8",
    )
    candidates_import(path=path, campaign=campaign)
    candidates_score(candidate_ids=list(campaign.candidates.values_list("id", flat=True)))
    return {c.external_id: c for c in campaign.candidates.all()}


@pytest.mark.slow
def test_copies_of_real_and_heldout_rows_are_rejected_with_the_right_reason(faq, tmp_path):
    train, heldout = long_rows(TRAIN, 6), long_rows(HELDOUT, 5)
    cases = [
        ("exact", train[0]["prompt"], train[0]["response"]),
        ("reworded-7", "Rephrased: " + train[1]["prompt"], reworded(train[1]["response"], 7)),
        ("reordered", train[2]["prompt"], reordered(train[2]["response"])),
        ("cut-short", train[3]["prompt"], head(train[3]["response"], 0.5) + "."),
        ("held-whole", heldout[0]["prompt"], heldout[0]["response"]),
        ("held-half", heldout[1]["prompt"], head(heldout[1]["response"], 0.5) + "."),
        ("held-reworded-15", heldout[2]["prompt"], reworded(heldout[2]["response"], 15, seed=1)),
        (
            "held-40pct-then-new",
            heldout[3]["prompt"],
            head(heldout[3]["response"], 0.4) + ". " + NOVEL[2][1],
        ),
    ] + [(f"novel-{i}", p, r) for i, (p, r) in enumerate(NOVEL)]
    got = score(faq, cases, tmp_path)
    expect = {
        "exact": "duplicate",
        "reworded-7": "duplicate",
        "reordered": "duplicate",
        "cut-short": "duplicate",
        "held-whole": "contamination",
        "held-half": "contamination",
        "held-reworded-15": "contamination",
        "held-40pct-then-new": "contamination",
    }
    wrong = {
        name: (c.status, c.reasons)
        for name, c in got.items()
        if (name in expect and (c.status != CandidateStatus.AUTO_REJECTED or expect[name] not in c.reasons))
        or (name.startswith("novel") and c.status != CandidateStatus.IN_REVIEW)
    }
    assert not wrong, wrong


@pytest.mark.slow
def test_the_indexes_are_stored_once_and_reused(faq, tmp_path):
    got = score(faq, [("a", NOVEL[0][0], NOVEL[0][1])], tmp_path)
    assert TextSignature.objects.filter(example__isnull=False).count() == len(ROWS)
    assert TextEmbedding.objects.filter(example__isnull=False).count() == len(ROWS)
    bands = LshBand.objects.count()
    assert indexes.examples_index() == 0 and indexes.examples_embed() == 0  # nothing left to index
    # A later candidate adds its own rows and recomputes nothing else.
    got = score(faq, [("b", NOVEL[1][0], NOVEL[1][1])], tmp_path)
    assert TextSignature.objects.count() == len(ROWS) + 2
    assert LshBand.objects.count() > bands
    nearest = CriticScore.objects.get(candidate=got["b"], critic="semantic").details["nearest"]
    assert set(nearest) >= {"real", "heldout", "candidate"}
    assert nearest["candidate"]["ref"] == got["a"].public_id


@pytest.mark.slow
def test_a_later_near_copy_within_the_campaign_is_flagged_and_the_first_kept(faq, tmp_path):
    text = NOVEL[3][1]
    got = score(faq, [("first", NOVEL[3][0], text), ("again", NOVEL[3][0], reworded(text, 9))], tmp_path)
    assert got["first"].status == CandidateStatus.IN_REVIEW
    assert got["again"].status == CandidateStatus.AUTO_REJECTED
    assert "duplicate" in got["again"].reasons
