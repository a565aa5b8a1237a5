"""distinct_n as CONTRACT.md defines it: corpus-level, distinct n-grams over all n-grams
of all texts, on lower-cased words."""

from __future__ import annotations

import pytest

from workers.metrics.lexical import distinct_n


def test_distinct_1_counts_distinct_words_over_all_words_of_the_corpus():
    # the cat sat / the cat ran: 6 words, 4 distinct. A per-text mean would say 1.0.
    assert distinct_n(["the cat sat", "the cat ran"], 1) == pytest.approx(4 / 6)


def test_distinct_2_counts_distinct_bigrams_over_all_bigrams():
    # (the cat) (cat sat) (the cat) (cat ran): 4 bigrams, 3 distinct.
    assert distinct_n(["the cat sat", "the cat ran"], 2) == pytest.approx(3 / 4)


def test_n_grams_do_not_cross_from_one_text_to_the_next():
    # Only (a b) and (c d): a bigram (b c) across the boundary would make it 3.
    assert distinct_n(["a b", "c d"], 2) == 1.0
    assert distinct_n(["a b", "b a", "a b"], 2) == pytest.approx(2 / 3)


def test_words_are_lower_cased_and_punctuation_is_not_a_word():
    assert distinct_n(["Tea, tea!", "TEA?"], 1) == pytest.approx(1 / 3)


def test_a_collapsed_corpus_scores_lower_than_a_varied_one():
    varied = ["green tea wants cool water", "black tea takes boiling water", "oolong sits between them"]
    collapsed = ["tea is a drink", "tea is a drink", "tea is a nice drink"]
    assert distinct_n(collapsed, 2) < distinct_n(varied, 2) == 1.0
    assert distinct_n(collapsed, 2) == pytest.approx(5 / 10)  # 10 bigrams, 5 distinct


def test_texts_shorter_than_n_add_nothing():
    assert distinct_n(["tea", "tea is hot"], 2) == 1.0
    assert distinct_n(["tea", "hot"], 2) == 0.0


def test_an_empty_corpus_scores_zero():
    assert distinct_n([], 1) == 0.0
    assert distinct_n(["", "  "], 1) == 0.0


def test_it_reads_any_iterable_once():
    assert distinct_n((t for t in ["a b", "a c"]), 1) == pytest.approx(3 / 4)
