"""parse_pair: model output is untrusted; no clear question and answer means None
(a `format` failure), never a guess presented as data."""

from __future__ import annotations

import pytest

from workers.generation.parsing import parse_pair


def test_it_reads_a_plain_q_and_a():
    assert parse_pair("Q: What is tea?\nA: A drink made from leaves.") == (
        "What is tea?",
        "A drink made from leaves.",
    )


def test_it_reads_question_and_answer_words_in_any_case():
    assert parse_pair("question: What is tea?\nANSWER: A drink.") == ("What is tea?", "A drink.")


@pytest.mark.parametrize(
    "text",
    [
        "**Q:** What is tea?\n**A:** A drink.",
        "**Question:** What is tea?\n**Answer:** A drink.",
        "**Q**: What is tea?\n**A**: A drink.",
        "**Question**: What is tea?\n**Answer**: A drink.",
    ],
)
def test_it_reads_markdown_bold_markers_closed_before_or_after_the_colon(text):
    assert parse_pair(text) == ("What is tea?", "A drink.")


def test_it_reads_numbered_markers_and_other_punctuation():
    assert parse_pair("Q1) What is tea?\nA1) A drink.") == ("What is tea?", "A drink.")


def test_it_reads_markers_on_their_own_lines():
    text = "Question:\nWhat is tea?\n\nAnswer:\nA drink made from the leaves\nof Camellia sinensis."
    assert parse_pair(text) == ("What is tea?", "A drink made from the leaves\nof Camellia sinensis.")


def test_it_skips_a_chatty_preamble_before_the_question():
    assert parse_pair("Sure! Here is a new pair:\n\nQ: What is tea?\nA: A drink.") == (
        "What is tea?",
        "A drink.",
    )


def test_it_takes_the_text_before_an_answer_marker_as_the_question_when_there_is_no_question_marker():
    assert parse_pair("What is tea?\nA: A drink.") == ("What is tea?", "A drink.")


def test_it_keeps_only_the_first_of_several_pairs():
    text = "Q: What is tea?\nA: A drink.\n\nQ: What is oolong?\nA: A partly oxidized tea."
    assert parse_pair(text) == ("What is tea?", "A drink.")


def test_it_ends_the_answer_at_a_second_answer_marker():
    assert parse_pair("Q: What is tea?\nA: A drink.\nA: Or a plant.") == ("What is tea?", "A drink.")


def test_it_keeps_a_lettered_list_inside_the_answer():
    text = "Q: Which kinds are there?\nA: Three main ones:\na) green\nb) oolong\nc) black"
    assert parse_pair(text) == ("Which kinds are there?", "Three main ones:\na) green\nb) oolong\nc) black")


def test_it_keeps_a_colon_inside_the_question():
    assert parse_pair("Q: Is 'A: B' a ratio?\nA: Yes.") == ("Is 'A: B' a ratio?", "Yes.")


def test_it_tidies_code_fences_and_long_blank_runs():
    assert parse_pair("```\nQ: What is tea?\nA: A drink.\n\n\n\nHot.\n```") == (
        "What is tea?",
        "A drink.\n\nHot.",
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("Tea is a drink made from leaves.", id="no markers"),
        pytest.param("Q: What is tea?", id="no answer"),
        pytest.param("A: A drink.\nQ: What is tea?", id="answer before question"),
        pytest.param("Q:\nA: A drink.", id="empty question"),
        pytest.param("Q: What is tea?\nA:   \n", id="empty answer"),
        pytest.param("A: A drink.\nA: Another.", id="two answers and no question"),
        pytest.param("q: What is tea?\na: A drink.", id="lower-case one-letter markers are list items"),
    ],
)
def test_it_returns_none_without_a_clear_question_and_answer(text):
    assert parse_pair(text) is None


def test_a_stuttered_question_marker_is_not_part_of_the_question():
    assert parse_pair("Q: Q: Is there a book on Python?\nA: Yes, several.") == (
        "Is there a book on Python?",
        "Yes, several.",
    )
