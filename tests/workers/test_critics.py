"""The critic engines: plain Python judging batches of items, with what they know about
stored data given to them through a Corpus."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import pytest

from workers.critics import CRITICS, CriticSettingsError, Item, Verdict, build_panel
from workers.critics.duplicates import ContaminationCritic, DuplicateCritic
from workers.critics.format import FormatCritic
from workers.critics.length import LengthCritic
from workers.critics.refusal import RefusalCritic
from workers.critics.repetition import RepetitionCritic
from workers.critics.text import text_key
from workers.critics.truncation import TruncationCritic

ROOT = Path(__file__).resolve().parents[2]
GOOD = "Use water well below boiling, around seventy to eighty degrees, so the leaves do not scald."


class Corpus:
    """The stored data as the engine sees it: where each text key was seen before."""

    def __init__(self, seen: dict[str, set[str]] | None = None) -> None:
        self.seen = {text_key(text): places for text, places in (seen or {}).items()}
        self.calls = 0

    def sightings(self, items: Sequence[Item]) -> dict[int, set[str]]:
        self.calls += 1
        return {i.id: set(self.seen[i.text_key]) for i in items if i.text_key in self.seen}

    # The index lookups find nothing here; tests/scoring covers them through the database.
    def near(self, items: Sequence[Item]) -> dict[int, list]:
        return {}

    def heldout_ngrams(self, items: Sequence[Item]) -> dict[int, dict]:
        return {}

    def neighbours(self, items: Sequence[Item], threshold: float) -> dict[int, list]:
        return {}


def item(response: str, prompt: str = "How hot should the water be?", id: int = 1) -> Item:
    return Item(id=id, prompt=prompt, response=response, text_key=text_key(response))


def judge(critic, *responses: str, corpus: Corpus | None = None) -> list[Verdict]:
    items = [item(r, id=n) for n, r in enumerate(responses, start=1)]
    return critic.judge(items, corpus or Corpus())


def test_length_passes_an_answer_of_enough_words():
    assert judge(LengthCritic(), GOOD) == [Verdict(1.0, True, rationale="16 words")]


def test_length_rejects_a_too_short_answer_with_a_partial_score():
    assert judge(LengthCritic(), "Around eighty.") == [
        Verdict(0.4, False, "length", "2 words, fewer than 5"),
    ]


def test_length_rejects_a_run_on_answer():
    (verdict,) = judge(LengthCritic(max_words=10), GOOD)
    assert verdict == Verdict(10 / 16, False, "length", "16 words, more than 10")


def test_length_counts_words_not_punctuation():
    (verdict,) = judge(LengthCritic(min_words=3), "Yes . . . ! ! ?")
    assert verdict.label == "length"
    assert verdict.rationale == "1 word, fewer than 3"


def test_repetition_passes_varied_text():
    (verdict,) = judge(RepetitionCritic(), GOOD)
    assert verdict == Verdict(1.0, True, "", "0% of 3-grams repeat")


def test_repetition_rejects_a_degenerate_loop():
    (verdict,) = judge(RepetitionCritic(), "Tea is a drink. " * 7)
    # 28 words, 26 trigrams, 4 distinct: 22/26 repeat an earlier one.
    assert verdict == Verdict(pytest.approx(4 / 26), False, "repetition", "85% of 3-grams repeat")


def test_repetition_ignores_case_and_punctuation_when_comparing_words():
    (verdict,) = judge(RepetitionCritic(max_share=0.5), "Tea is good. TEA, is good! tea is GOOD?")
    assert verdict.passed is False
    assert verdict.rationale == "57% of 3-grams repeat"


def test_repetition_threshold_and_n_are_settings():
    text = "green tea and black tea and white tea and yellow tea and dark tea"
    assert judge(RepetitionCritic(), text)[0].passed is True
    assert judge(RepetitionCritic(n=2, max_share=0.2), text)[0].passed is False


@pytest.mark.parametrize(
    ("response", "phrase"),
    [
        ("As an AI language model, I do not drink tea.", "As an AI"),
        ("I'm sorry, but I can't help with that.", "I'm sorry, but I can't"),
        ("I am unable to provide medical advice about tea.", "I am unable to provide"),
        ("I cannot assist with that request.", "I cannot assist with that"),
        ("I\u2019m sorry, but I can\u2019t answer.", "I'm sorry, but I can't"),
    ],
)
def test_refusal_rejects_assistant_boilerplate(response, phrase):
    assert judge(RefusalCritic(), response) == [Verdict(0.0, False, "refusal", f"refusal phrase: {phrase!r}")]


def test_refusal_passes_an_answer_that_mentions_being_unable_in_passing():
    text = "Green tea is unable to stand boiling water; I can help you brew it at 80 degrees."
    assert judge(RefusalCritic(), text) == [Verdict(1.0, True)]


def test_format_rejects_an_item_without_a_question_or_an_answer():
    critic = FormatCritic()
    items = [
        item(GOOD, id=1),
        item("Q: unparsed output", prompt="", id=2),
        item("  ", prompt="How hot?", id=3),
        item("", prompt=" ", id=4),
    ]
    assert critic.judge(items, Corpus()) == [
        Verdict(1.0, True, rationale="a question and an answer"),
        Verdict(
            0.0,
            False,
            "format",
            "empty prompt: the question and answer were not split apart "
            "(the response starts with 'Q: unparsed output')",
        ),
        Verdict(0.0, False, "format", "empty response"),
        Verdict(0.0, False, "format", "empty prompt; empty response"),
    ]


@pytest.mark.parametrize(
    ("prompt", "response", "why"),
    [
        ("<question>: How hot?", GOOD, "template placeholder '<question>' left in the prompt"),
        ("How hot?", "{{ answer }}", "template placeholder '{{ answer }}' left in the response"),
        ("How hot?", GOOD + "\nQ: And for black tea?", "the response goes on to another question"),
        ("Q: How hot?\nA: hot.\nQ: why?", GOOD, "the prompt holds several question/answer labels"),
    ],
)
def test_format_says_what_is_really_wrong(prompt, response, why):
    (verdict,) = FormatCritic().judge([item(response, prompt=prompt)], Corpus())
    assert not verdict.passed and verdict.label == "format"
    assert why in verdict.rationale


@pytest.mark.parametrize(
    ("response", "finish", "why"),
    [
        (GOOD, "length", "finish_reason length"),
        ("Use this:\n```python\nfor x in range(3):\n    print(", "", "never closed"),
        ("Steep it for three minutes and then add the", "", "ends on 'the'"),
        ("The steps are:", "", "ends on ':'"),
    ],
)
def test_truncation_finds_answers_cut_off(response, finish, why):
    it = Item(1, "How?", response, text_key(response), finish_reason=finish)
    (verdict,) = TruncationCritic().judge([it], Corpus())
    assert not verdict.passed and verdict.label == "truncation" and why in verdict.rationale


def test_truncation_passes_finished_answers():
    done = [GOOD, "Use this:\n```python\nprint(1)\n```\nThat is all.", "Yes"]
    verdicts = TruncationCritic().judge([item(t, id=i) for i, t in enumerate(done)], Corpus())
    assert all(v.passed for v in verdicts)


def test_duplicate_flags_copies_of_real_approved_or_earlier_candidate_text():
    corpus = Corpus(
        {
            "Real text here.": {"real"},
            "Approved text here.": {"approved", "real"},
            "An earlier candidate.": {"candidate"},
            "Held out text.": {"heldout"},
        }
    )
    verdicts = judge(
        DuplicateCritic(),
        "REAL   text here.",
        "Approved text here.",
        "An earlier candidate.",
        "Held out text.",
        GOOD,
        corpus=corpus,
    )
    assert verdicts == [
        Verdict(0.0, False, "duplicate", "copy of real data"),
        Verdict(0.0, False, "duplicate", "copy of approved data, real data"),
        Verdict(0.0, False, "duplicate", "copy of an earlier candidate"),
        Verdict(1.0, True, rationale="no exact copy"),
        Verdict(1.0, True, rationale="no exact copy"),
    ]


def test_contamination_flags_a_copy_of_held_out_data_as_a_duplicate_too():
    corpus = Corpus({"Held out text.": {"heldout", "real"}, "Real text here.": {"real"}})
    verdicts = judge(ContaminationCritic(), "held out   TEXT.", "Real text here.", GOOD, corpus=corpus)
    assert verdicts == [
        Verdict(0.0, False, "contamination", "exact copy of held-out data", extra_labels=("duplicate",)),
        Verdict(1.0, True, rationale="no overlap with held-out data"),
        Verdict(1.0, True, rationale="no overlap with held-out data"),
    ]


def test_a_critic_asks_the_corpus_once_per_batch():
    corpus = Corpus()
    judge(DuplicateCritic(), GOOD, "Another answer entirely.", corpus=corpus)
    assert corpus.calls == 1


def test_every_critic_returns_one_verdict_per_item_in_order():
    items = [item(GOOD, id=1), item("Tea.", id=2), item("", prompt="", id=3)]
    for critic in build_panel({"semantic": {"enabled": False}}):
        verdicts = critic.judge(items, Corpus())
        assert len(verdicts) == 3, critic.name
        assert all(0 <= v.score <= 1 for v in verdicts), critic.name
        assert all(v.passed or v.label for v in verdicts), critic.name


def test_the_default_panel_holds_every_registered_critic():
    panel = build_panel()
    assert [c.name for c in panel] == [
        "format",
        "length",
        "repetition",
        "refusal",
        "truncation",
        "duplicate",
        "near_duplicate",
        "contamination",
        "semantic",
    ]
    assert [c.stage for c in panel] == [1, 1, 1, 1, 1, 1, 2, 2, 2]
    assert {c.name for c in panel} == set(CRITICS)
    assert all(c.version for c in panel)


def test_panel_settings_reach_the_critic():
    panel = {c.name: c for c in build_panel({"length": {"min_words": 8, "max_words": 100}})}
    assert panel["length"] == LengthCritic(min_words=8, max_words=100)
    assert panel["repetition"] == RepetitionCritic()


def test_a_critic_can_be_turned_off():
    names = [c.name for c in build_panel({"refusal": {"enabled": False}, "length": {"enabled": True}})]
    assert "refusal" not in names
    assert "length" in names


def test_an_empty_critic_entry_keeps_the_defaults():
    assert build_panel({"length": {}}) == build_panel()


@pytest.mark.parametrize(
    ("panel_settings", "message"),
    [
        (
            {"lenght": {}},
            "critics.lenght: unknown critic "
            "(known: contamination, duplicate, format, judge, learned, length, near_duplicate, "
            "refusal, repetition, semantic, truncation)",
        ),
        ({"length": {"min": 3}}, "critics.length: unknown setting 'min' (known: max_words, min_words)"),
        ({"length": {"min_words": "five"}}, "critics.length.min_words: must be int, not 'five'"),
        ({"length": {"min_words": 2.5}}, "critics.length.min_words: must be int, not 2.5"),
        ({"length": {"min_words": True}}, "critics.length.min_words: must be int, not True"),
        ({"repetition": {"max_share": "0.3"}}, "critics.repetition.max_share: must be float, not '0.3'"),
        ({"refusal": {"enabled": "false"}}, "critics.refusal.enabled: must be true or false, not 'false'"),
        ({"repetition": {"n": 0}}, "critics.repetition: n must be at least 1, not 0"),
        ({"repetition": {"max_share": 2}}, "critics.repetition: max_share must be between 0 and 1, not 2"),
        (
            {"length": {"min_words": 50, "max_words": 10}},
            "critics.length: need 0 <= min_words <= max_words, got 50 and 10",
        ),
    ],
)
def test_bad_panel_settings_are_refused_with_the_setting_named(panel_settings, message):
    with pytest.raises(CriticSettingsError) as refused:
        build_panel(panel_settings)
    assert str(refused.value) == message


def test_a_whole_number_is_a_fine_float_setting():
    panel = {c.name: c for c in build_panel({"repetition": {"max_share": 1}})}
    assert panel["repetition"].max_share == 1


ENGINES = ["workers/generation", "workers/critics", "workers/metrics"]


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def test_engine_code_imports_neither_django_nor_the_app():
    files = [f for folder in ENGINES for f in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) >= 15
    offenders = {
        f"{f.relative_to(ROOT)}: {name}"
        for f in files
        for name in _imports(f)
        if name.split(".")[0] in {"django", "curation"}
    }
    assert offenders == set()


def test_the_import_scan_sees_django_imports_in_the_app():
    found = _imports(ROOT / "curation/sources/services.py")
    assert {"django.db", "curation.sources.readers"} <= found


def test_a_candidate_repeating_its_own_few_shot_example_cut_short_is_a_near_copy():
    from workers.critics.duplicates import NearDuplicateCritic

    shot = (
        "Use water well below boiling, around seventy to eighty degrees Celsius. Boiling water scalds "
        "the leaves and brings out bitter catechins, so let the kettle rest a few minutes before pouring."
    )
    cut = " ".join(shot.split()[:16])
    fresh = "Brew white tea gently and briefly; its downy buds give a pale, sweet and delicate cup of tea."
    items = [
        Item(1, "How hot?", cut, text_key(cut), shots=(shot,)),
        Item(2, "White tea?", fresh, text_key(fresh), shots=(shot,)),
    ]
    copied, novel = NearDuplicateCritic().judge(items, Corpus())
    assert not copied.passed and copied.label == "duplicate"
    assert "one of its own few-shot examples" in copied.rationale
    assert novel.passed


def test_max_tokens_cutting_a_ramble_after_the_answer_is_not_a_truncated_answer():
    from workers.critics.truncation import stopped_in_answer

    answer = "Use water around eighty degrees so the leaves do not scald."
    rambled = f"Q: How hot?\nA: {answer}\nQ: And for black tea?\nA: Boiling water, and then"
    assert stopped_in_answer("length", rambled, answer) == "stop"
    assert stopped_in_answer("length", f"Q: How hot?\nA: {answer}", answer) == "length"
    assert stopped_in_answer("stop", rambled, answer) == "stop"
