"""The LLM judge: a rubric of principles scored by a model through the generation
backends. Model text is untrusted and often sloppy, so parsing is tolerant and an
unreadable answer is flagged as malformed instead of crashing or rejecting."""

from __future__ import annotations

import pytest

from workers.critics.judge import (
    DEFAULT_PRINCIPLES,
    VERSION,
    Judgement,
    Principle,
    Rubric,
    judge,
    judge_messages,
    parse_judgement,
    revise_messages,
)
from workers.generation import DEFAULT_MODEL, Generation, GenerationError, SamplingParams, get_backend

RUBRIC = Rubric(
    (
        Principle("correct", "Factually accurate, no false claims."),
        Principle("helpful", "Answers the question asked, completely."),
        Principle("clear", "Well organised, no filler."),
    )
)
TEA = ("How hot should the water be for green tea?", "Around 70 to 80 degrees Celsius, below boiling.")
PARIS = ("What is the capital of France?", "The capital of France is Berlin.")


def scores(j: Judgement) -> dict[str, float | None]:
    return {p.name: p.score for p in j.principles}


# ---- parsing ----------------------------------------------------------------------------


def test_it_reads_the_line_format_it_asks_for():
    j = parse_judgement(
        RUBRIC, "correct: 2/5 - says water should boil\nhelpful: 4/5 - answers it\nclear: 5/5 - tidy"
    )
    assert not j.malformed and j.passed
    assert scores(j) == {"correct": 0.25, "helpful": 0.75, "clear": 1.0}  # 1..5 mapped onto 0..1
    assert j.score == pytest.approx(2 / 3)
    assert j.principles[0].critique == "says water should boil"
    assert j.rationale == "correct 2/5: says water should boil; helpful 4/5: answers it; clear 5/5: tidy"


def test_it_reads_a_json_answer_even_in_a_code_fence():
    text = (
        '```json\n{"correct": {"score": 1, "critique": "Berlin is wrong"}, "helpful": 3,\n'
        ' "clear": "5/5 - short"}\n```'
    )
    j = parse_judgement(RUBRIC, text)
    assert scores(j) == {"correct": 0.0, "helpful": 0.5, "clear": 1.0}
    assert j.principles[0].critique == "Berlin is wrong" and j.principles[2].critique == "short"
    listed = (
        '[{"name": "correct", "score": 5}, {"name": "helpful", "rating": 5}, {"name": "clear", "score": 4}]'
    )
    assert scores(parse_judgement(RUBRIC, "Here you go: " + listed)) == {
        "correct": 1.0,
        "helpful": 1.0,
        "clear": 0.75,
    }


@pytest.mark.parametrize(
    "text",
    [
        "**correct**: 4 out of 5 - fine\n**helpful**: 4 out of 5\n**clear**: 4 out of 5",
        "- **Correctness:** Score: 4. Fine\n- **Helpfulness:** Score: 4\n- **Clear:** Rating: 4",
        "### Correct\nScore: 4\nCritique: fine\n### Helpful\n4/5\n### Clear\n4 - ok",
        "1. `correct` = 4\n2. `helpful` = 4/5\n3. `clear` = 4 (could be shorter)",
        "Here is my rating.\n\ncorrect: N/5 - <one short critique>\ncorrect: 4/5\nhelpful: 4/5\nclear: 4/5",
    ],
)
def test_it_forgives_markdown_and_wording(text):
    j = parse_judgement(RUBRIC, text)
    assert scores(j) == {"correct": 0.75, "helpful": 0.75, "clear": 0.75}, j.rationale


def test_a_missing_principle_scores_none_and_the_rest_still_count():
    j = parse_judgement(RUBRIC, "correct: 5/5 - right\nclear: 3/5 - rambles")
    assert not j.malformed
    assert scores(j) == {"correct": 1.0, "helpful": None, "clear": 0.5}
    assert j.score == pytest.approx(0.75)
    assert "helpful: missing" in j.rationale


@pytest.mark.parametrize("bad", ["7/5", "0/5", "6", "8/10", "-1"])
def test_an_out_of_range_score_is_none_for_that_principle(bad):
    j = parse_judgement(RUBRIC, f"correct: {bad} - hmm\nhelpful: 5/5\nclear: 5/5")
    assert scores(j) == {"correct": None, "helpful": 1.0, "clear": 1.0}
    assert j.score == 1.0 and not j.malformed


def test_the_fraction_over_the_scale_is_the_score_not_a_quantity_in_the_critique():
    j = parse_judgement(RUBRIC, "correct: mentions 1/2 cup of leaves, 3/5\nhelpful: 3/5\nclear: 3/5")
    assert scores(j)["correct"] == 0.5


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "The answer is good and I like it.",
        "correct: great\nhelpful: yes",
        "{not json",
        "[[[[" * 5000,
    ],
)
def test_an_unreadable_answer_is_malformed_and_passes(text):
    j = parse_judgement(RUBRIC, text)
    assert j.malformed and j.passed and j.score is None
    assert all(p.score is None for p in j.principles)
    assert j.rationale.startswith("malformed judge answer: ")
    assert len(j.rationale) <= len("malformed judge answer: ") + 200
    assert j.raw == text


def test_the_floor_decides_passing():
    low = "correct: 2/5\nhelpful: 3/5\nclear: 2/5"  # mean (0.25 + 0.5 + 0.25) / 3 = 0.33
    assert not parse_judgement(RUBRIC, low).passed
    assert parse_judgement(Rubric(RUBRIC.principles, floor=0.3), low).passed
    exact = "correct: 3/5\nhelpful: 3/5\nclear: 3/5"  # mean 0.5, right at the floor
    assert parse_judgement(RUBRIC, exact).passed
    ten = Rubric(RUBRIC.principles, scale=10)
    assert scores(parse_judgement(ten, "correct: 10/10\nhelpful: 1/10\nclear: 7/5")) == {
        "correct": 1.0,
        "helpful": 0.0,
        "clear": None,
    }


# ---- rubric -------------------------------------------------------------------------------


def test_the_default_rubric_judges_quality():
    rubric = Rubric.from_config(None)
    assert rubric.principles == DEFAULT_PRINCIPLES and rubric.floor == 0.5 and rubric.scale == 5
    assert {"correct", "helpful", "clear"} <= {p.name for p in DEFAULT_PRINCIPLES}
    assert VERSION


def test_principles_may_be_strings_or_mappings():
    rubric = Rubric.from_config(
        {
            "principles": [
                "correct",  # a default's name
                "Cites a source for every number.",
                {"concise": "No more words than needed."},
                {"name": "polite", "text": "Courteous tone."},
            ],
            "floor": 0.6,
            "scale": 10,
        }
    )
    assert [p.name for p in rubric.principles] == ["correct", "cites_a_source", "concise", "polite"]
    assert rubric.principles[0] == DEFAULT_PRINCIPLES[0]
    assert rubric.principles[1].text == "Cites a source for every number."
    assert (rubric.floor, rubric.scale) == (0.6, 10)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"floor": 1.5}, "critics.judge.floor: must be between 0 and 1"),
        ({"floor": "high"}, "critics.judge.floor"),
        ({"floor": True}, "critics.judge.floor"),
        ({"scale": 1}, "critics.judge.scale"),
        ({"scale": 4.5}, "critics.judge.scale"),
        ({"principles": []}, "critics.judge.principles: must be a non-empty list"),
        ({"principles": "correct"}, "critics.judge.principles"),
        (
            {"principles": ["correct", {"correct": "again"}]},
            "critics.judge.principles: duplicate name 'correct'",
        ),
        ({"principles": [{"name": "Bad Name!", "text": "x"}]}, "critics.judge.principles[0].name"),
        ({"principles": [{"name": "ok", "text": " "}]}, "critics.judge.principles[0].text"),
        ({"principles": [{"name": "ok", "text": "x", "weight": 2}]}, "critics.judge.principles[0]"),
        ({"principles": ["correct", 5]}, "critics.judge.principles[1]"),
        ({"backend": "vllm"}, "critics.judge: unknown setting 'backend'"),
    ],
)
def test_a_bad_config_is_refused_naming_the_key(raw, message):
    with pytest.raises(ValueError) as e:
        Rubric.from_config(raw)
    assert message in str(e.value)


def test_the_key_is_stable_and_changes_with_the_rubric():
    key = Rubric.from_config(None).key()
    assert key == Rubric.from_config({}).key() == Rubric(DEFAULT_PRINCIPLES, floor=0.5, scale=5).key()
    assert len(key) <= 12
    changed = {
        Rubric(DEFAULT_PRINCIPLES, floor=0.6).key(),
        Rubric(DEFAULT_PRINCIPLES, scale=10).key(),
        Rubric(DEFAULT_PRINCIPLES[:2]).key(),
        Rubric((Principle("correct", "Accurate."),)).key(),
    }
    assert key not in changed and len(changed) == 4


def test_the_prompt_asks_for_the_parseable_format():
    messages = judge_messages(RUBRIC, *PARIS)
    assert [m["role"] for m in messages] == ["system", "user"]
    system, user = messages[0]["content"], messages[1]["content"]
    assert "correct: N/5 - " in system and "clear: N/5 - " in system
    assert "Factually accurate" in system
    assert PARIS[0] in user and PARIS[1] in user
    revise = revise_messages(*PARIS, parse_judgement(RUBRIC, "correct: 1/5 - Berlin is wrong\nclear: 5/5"))
    assert "Berlin is wrong" in revise[1]["content"] and "only the revised answer" in revise[0]["content"]


# ---- judging through a backend ------------------------------------------------------------


class ScriptedBackend:
    """Stands in for the model's text only: returns scripted answers, records its calls."""

    name = "scripted"
    model = "scripted"

    def __init__(self, texts: list[str], finish_reason: str = "stop") -> None:
        self.texts = texts
        self.finish_reason = finish_reason
        self.calls: list[tuple[list, SamplingParams, list[int]]] = []

    def generate(self, conversations, params, seeds):
        self.calls.append((conversations, params, seeds))
        return [
            Generation(t, len(t.split()), self.finish_reason, s)
            for t, s in zip(self.texts, seeds, strict=True)
        ]


def test_it_judges_a_batch_in_one_call_and_in_order():
    backend = ScriptedBackend(["correct: 5/5\nhelpful: 5/5\nclear: 5/5", "@@#!garbage", "", "correct: 1/5"])
    items = [TEA, PARIS, TEA, PARIS]
    out = judge(backend, RUBRIC, items, max_tokens=99, seed=7)
    assert len(backend.calls) == 1
    conversations, params, seeds = backend.calls[0]
    assert conversations == [judge_messages(RUBRIC, p, r) for p, r in items]
    assert (params.max_tokens, params.temperature, seeds) == (99, 0.0, [7, 7, 7, 7])
    assert [j.score for j in out] == [1.0, None, None, 0.0]
    assert [j.malformed for j in out] == [False, True, True, False]
    assert [j.passed for j in out] == [True, True, True, False]
    assert out[1].raw == "@@#!garbage" and out[2].rationale == "malformed judge answer: (empty)"
    assert judge(backend, RUBRIC, []) == [] and len(backend.calls) == 1


def test_a_cut_off_malformed_answer_says_so():
    [j] = judge(ScriptedBackend(["Let me think about the correct"], finish_reason="length"), RUBRIC, [TEA])
    assert j.malformed and "cut at max_tokens" in j.rationale


def test_a_backend_failure_propagates_for_the_caller_to_retry():
    class Down(ScriptedBackend):
        def generate(self, conversations, params, seeds):
            raise GenerationError("endpoint unavailable", permanent=False)

    with pytest.raises(GenerationError) as e:
        judge(Down([]), RUBRIC, [TEA])
    assert not e.value.permanent


@pytest.mark.slow
def test_smollm2_judges_without_crashing():
    backend = get_backend("transformers", DEFAULT_MODEL)
    out = judge(backend, Rubric.from_config(None), [TEA, PARIS], max_tokens=120)
    assert len(out) == 2
    for j in out:
        assert j.raw.strip()  # the model's text is kept whatever it is
        if j.malformed:
            assert j.passed and j.score is None and j.rationale.startswith("malformed judge answer")
        else:
            assert 0.0 <= j.score <= 1.0
            assert all(p.score is None or 0.0 <= p.score <= 1.0 for p in j.principles)
        print(f"SmolLM2 judge answer: {j.raw!r}\n-> {j.rationale}")
