"""The campaign config's `argilla` section (issue 10): where a campaign's Argilla dataset is."""

from __future__ import annotations

import pytest

from curation.campaigns.config import parse_config
from curation.core.errors import InvalidInput

BASE = {"slug": "tea", "source": "tea", "count": 4}
ARGILLA = {"url": "https://argilla.example.org/", "workspace": "tea-team", "dataset": "tea_answers-1"}


def test_a_campaign_has_no_argilla_section_unless_given():
    assert parse_config(BASE).argilla is None


def test_an_argilla_section_names_url_workspace_and_dataset():
    config = parse_config({**BASE, "argilla": ARGILLA})

    assert (config.argilla.url, config.argilla.workspace, config.argilla.dataset) == (
        "https://argilla.example.org",
        "tea-team",
        "tea_answers-1",
    )
    assert parse_config(config.model_dump()).argilla == config.argilla  # stored and read back


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"url": "ftp://argilla.example.org"}, "argilla.url must be an http or https URL"),
        ({"url": "argilla.example.org"}, "argilla.url must be an http or https URL"),
        ({"url": "http://host/?key=secret"}, "argilla.url must be an http or https URL"),
        ({"workspace": "tea team"}, "argilla.workspace"),
        ({"dataset": "-tea"}, "argilla.dataset"),
        ({"dataset": ""}, "argilla.dataset"),
        ({"api_key": "secret"}, "argilla.api_key"),
    ],
)
def test_an_invalid_argilla_section_is_refused_naming_the_field(change, message):
    with pytest.raises(InvalidInput, match=message):
        parse_config({**BASE, "argilla": {**ARGILLA, **change}})


def test_an_argilla_section_needs_all_three_fields():
    with pytest.raises(InvalidInput, match=r"argilla\.dataset"):
        parse_config({**BASE, "argilla": {"url": ARGILLA["url"], "workspace": "tea"}})
