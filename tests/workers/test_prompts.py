"""Prompt building: a sandboxed template, diversity attributes that cover every
combination, and few-shot picks that are a pure function of (seed, slot)."""

from __future__ import annotations

import itertools
import time

import pytest

from workers.generation.prompts import (
    DEFAULT_TEMPLATE,
    TemplateProblem,
    attributes_for,
    check_template,
    fewshot_for,
    render,
)

EXAMPLES = [{"prompt": "What is tea?", "response": "A drink.", "topic": "kinds"}]


def test_the_default_template_shows_the_examples_and_the_topic():
    text = render(DEFAULT_TEMPLATE, {"examples": EXAMPLES, "topic": "brewing"})
    assert text.startswith("Here are examples of questions and answers about brewing.")
    assert "Q: What is tea?\nA: A drink." in text
    assert 'Write one new question about brewing and its answer in the same style. Reply as "Q:' in text


def test_the_default_template_works_without_a_diversity_attribute():
    text = render(DEFAULT_TEMPLATE, {"examples": EXAMPLES})
    assert text.startswith("Here are examples of questions and answers.\n")
    assert " about " not in text


def test_a_template_sees_example_metadata():
    assert render(
        "{% for ex in examples %}[{{ ex.topic }}] {{ ex.prompt }}{% endfor %}", {"examples": EXAMPLES}
    ) == ("[kinds] What is tea?")


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ examples.__class__.__base__.__subclasses__() }}",
    ],
)
def test_a_template_cannot_reach_python_internals(template):
    with pytest.raises(TemplateProblem, match=r"^prompt_template \(line 1\): access to attribute '__\w+__'"):
        render(template, {"examples": EXAMPLES})


@pytest.mark.parametrize(
    "template",
    ["{{ ''.__class__ }}", "{{ lipsum.__globals__ }}", "{{ '{0.__class__}'.format(examples) }}"],
)
def test_an_unsafe_attribute_renders_as_nothing(template):
    assert render(f"<{template}>", {"examples": EXAMPLES}) == "<>"


def test_a_template_cannot_change_the_data_it_is_given():
    examples = [dict(e) for e in EXAMPLES]
    with pytest.raises(
        TemplateProblem, match=r"\(line 2\): access to attribute 'append' of 'list' object is unsafe"
    ):
        render("ok\n{{ examples.append(1) }}", {"examples": examples})
    assert examples == EXAMPLES


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ 9 ** 999999999 }}",
            "prompt_template (line 1): 9 ** 999999999 is too large for a prompt template",
        ),
        ("{{ 'x' * 10 ** 9 }}", "prompt_template (line 1): repeating a str 1000000000 times is too large"),
        (
            "{% for i in range(10 ** 9) %}{% endfor %}",
            "prompt_template (line 1): Range too big. "
            "The sandbox blocks ranges larger than MAX_RANGE (100000).",
        ),
    ],
)
def test_a_template_cannot_hang_or_exhaust_memory(template, message):
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, {"examples": EXAMPLES})
    assert str(problem.value) == message
    assert time.monotonic() - started < 1


def test_small_arithmetic_and_repetition_still_work():
    assert render("{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ 3 * '-' }} {{ 2.5 * 2 }}", {}) == "1024 ababab --- 5.0"


def test_a_syntax_error_names_its_line():
    template = "Examples:\n{% for ex in examples %}\nQ: {{ ex.prompt }\n{% endfor %}\nNow write one."
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, {"examples": EXAMPLES})
    assert str(problem.value) == "prompt_template (line 3): unexpected '}'"


def test_an_unclosed_block_names_the_line_where_the_template_ends():
    template = "Examples:\n{% for ex in examples %}\nQ: {{ ex.prompt }}"
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, {"examples": EXAMPLES})
    assert str(problem.value).startswith("prompt_template (line 3): Unexpected end of template.")


def test_an_unknown_filter_names_its_line():
    with pytest.raises(TemplateProblem, match=r"^prompt_template \(line 2\): No filter named 'shout'\.$"):
        check_template("Examples:\n{{ topic | shout }}", {"examples": EXAMPLES, "topic": "tea"})


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("one\ntwo\n{{ 1 / 0 }}", "prompt_template (line 3): division by zero"),
        ("one\n{{ 'a' + 1 }}", 'prompt_template (line 2): can only concatenate str (not "int") to str'),
        ("one\n{{ examples[5].prompt }}", "prompt_template (line 2): list object has no element 5"),
    ],
)
def test_a_runtime_error_is_a_template_problem_that_names_its_line(template, message):
    with pytest.raises(TemplateProblem) as problem:
        check_template(template, {"examples": EXAMPLES})
    assert str(problem.value) == message


def test_attributes_cover_every_combination_before_repeating():
    diversity = {"topic": ["brewing", "kinds", "storage"], "persona": ["novice", "expert"]}
    every = {tuple(sorted(c.items())) for c in _combinations(diversity)}
    first = [tuple(sorted(attributes_for(slot, diversity).items())) for slot in range(6)]
    assert set(first) == every
    assert len(set(first)) == 6
    second = [tuple(sorted(attributes_for(slot, diversity).items())) for slot in range(6, 12)]
    assert second == first


def test_attributes_name_every_attribute_and_take_values_from_its_list():
    diversity = {"topic": ["brewing"], "persona": ["novice", "expert"]}
    assert attributes_for(0, diversity) == {"persona": "novice", "topic": "brewing"}
    assert attributes_for(1, diversity) == {"persona": "expert", "topic": "brewing"}


def test_no_diversity_gives_no_attributes():
    assert attributes_for(7, {}) == {}


def _combinations(diversity):
    names = sorted(diversity)
    for values in itertools.product(*(diversity[n] for n in names)):
        yield dict(zip(names, values, strict=True))


POOL = [(i, {"topic": "brewing" if i % 2 else "kinds"}) for i in range(1, 21)]


def test_fewshot_picks_are_a_pure_function_of_seed_and_slot():
    picks = fewshot_for(3, 42, POOL, 3, {})
    assert picks == fewshot_for(3, 42, list(POOL), 3, {})
    assert len(picks) == 3
    assert len(set(picks)) == 3
    assert set(picks) <= {i for i, _ in POOL}


def test_fewshot_picks_change_with_the_slot_and_the_seed():
    by_slot = {tuple(fewshot_for(slot, 42, POOL, 3, {})) for slot in range(10)}
    by_seed = {tuple(fewshot_for(3, seed, POOL, 3, {})) for seed in range(10)}
    assert len(by_slot) > 5
    assert len(by_seed) > 5


def test_fewshot_prefers_examples_whose_metadata_match_the_attributes():
    for slot in range(20):
        picks = fewshot_for(slot, 7, POOL, 3, {"topic": "brewing"})
        assert len(picks) == 3
        assert all(i % 2 == 1 for i in picks), picks


def test_fewshot_keeps_the_few_matches_and_fills_from_the_whole_pool():
    pool = [(1, {"topic": "storage"})] + [(i, {"topic": "kinds"}) for i in range(2, 10)]
    picks = [fewshot_for(slot, 7, pool, 3, {"topic": "storage"}) for slot in range(20)]
    assert all(len(p) == 3 == len(set(p)) for p in picks)
    assert all(p[0] == 1 for p in picks)  # the only match, first
    assert len({tuple(p[1:]) for p in picks}) > 1  # the rest varies by slot


def test_fewshot_gives_what_there_is_when_the_pool_is_small():
    assert sorted(fewshot_for(0, 1, POOL[:2], 5, {})) == [1, 2]
    assert fewshot_for(0, 1, [], 3, {}) == []
    assert fewshot_for(0, 1, POOL, 0, {}) == []
