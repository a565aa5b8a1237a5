"""The campaign config (CONTRACT "Campaign config"): defaults, validation where it
enters, and `create_campaign`, which creates or updates by slug."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.config import DEFAULT_REASONS, CampaignConfig, load_yaml, parse_config
from curation.campaigns.models import Campaign, CampaignStatus
from curation.core.errors import InvalidInput
from workers.critics import build_panel
from workers.generation.prompts import DEFAULT_TEMPLATE

MINIMAL = "slug: tea\nsource: tea\ncount: 4\n"


def refused(text: str) -> str:
    with pytest.raises(InvalidInput) as error:
        load_yaml(text, origin="tea.yaml")
    message = str(error.value)
    assert "\n" not in message
    return message


def test_everything_but_slug_source_and_count_has_the_contract_default():
    config = load_yaml(MINIMAL, origin="tea.yaml")
    assert (config.slug, config.source, config.count) == ("tea", "tea", 4)
    assert config.name == "tea"
    assert config.task == "instruction"
    assert config.review.model_dump() == {
        "per_item": 1,
        "overlap": 0.0,
        "reasons": [list(pair) for pair in DEFAULT_REASONS.items()],
        "guidelines": "",
    }
    assert config.mixture.model_dump() == {
        "max_synthetic": 0.3,
        "balance_by": None,
        "max_depth": 1,
        "max_per_generator": None,
    }
    assert config.generator.backend == "transformers"
    assert config.generator.model == "smollm2-135m-instruct"
    assert config.prompt_template == DEFAULT_TEMPLATE
    assert config.diversity == {}
    assert config.critics == {}
    assert [c.name for c in build_panel(config.critics)] == [
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
    # No LLM judge unless asked for (each call costs a model run); the learned critic is on
    # and waits for enough expert decisions.
    assert config.judge is None
    assert config.learned is not None and config.learned.order == "uncertain"


def test_a_full_config_is_read_as_written():
    config = load_yaml(
        """
slug: tea-2024
name: Tea questions
task: chat
source: tea
count: 1000
fewshot: 2
generator:
  backend: vllm
  model: /models/qwen
  params: {temperature: 0.5, top_p: 0.9, max_tokens: 128, seed: 7, n: 4}
  output: json
  queue: gpu-qwen
prompt_template: |
  Topic: {{ topic }}, for a {{ persona }}.
  {% for ex in examples %}Q: {{ ex.prompt }}
  A: {{ ex.response }}
  {% endfor %}
diversity:
  topic: [brewing, kinds]
  persona: [novice, expert]
critics:
  length: {min_words: 8}
  refusal: {enabled: false}
  duplicate:
review: {per_item: 1, overlap: 0}
mixture: {max_synthetic: 0.2, balance_by: topic, max_depth: 2}
""",
        origin="tea.yaml",
    )
    assert (config.name, config.task, config.fewshot) == ("Tea questions", "chat", 2)
    assert config.generator.model_dump(exclude_defaults=True) == {
        "backend": "vllm",
        "model": "/models/qwen",
        "params": {"temperature": 0.5, "top_p": 0.9, "max_tokens": 128, "seed": 7, "n": 4},
        "output": "json",
        "queue": "gpu-qwen",
    }
    assert config.diversity == {"topic": ["brewing", "kinds"], "persona": ["novice", "expert"]}
    assert config.critics == {"length": {"min_words": 8}, "refusal": {"enabled": False}, "duplicate": {}}
    assert config.review.model_dump() == {
        "per_item": 1,
        "overlap": 0.0,
        "reasons": [list(pair) for pair in DEFAULT_REASONS.items()],
        "guidelines": "",
    }
    assert config.mixture.model_dump() == {
        "max_synthetic": 0.2,
        "balance_by": "topic",
        "max_depth": 2,
        "max_per_generator": None,
    }


def test_a_stored_config_validates_again_unchanged():
    config = load_yaml(
        MINIMAL + "diversity: {topic: [brewing]}\ncritics: {length: {min_words: 3}}\n", origin="x"
    )
    again = CampaignConfig.model_validate(config.model_dump(mode="json"))
    assert again == config


def test_parse_config_takes_a_mapping_from_anywhere():
    assert parse_config({"slug": "tea", "source": "tea", "count": 4}).slug == "tea"
    with pytest.raises(InvalidInput, match=r"^api: count: Input should be greater than or equal to 1$"):
        parse_config({"slug": "tea", "source": "tea", "count": 0}, origin="api")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            MINIMAL + "diversity: {topic: [brewing, kinds]\nfewshot: 2\n",
            "tea.yaml line 5: not valid YAML (expected ',' or '}', but got '<scalar>')",
            id="bad YAML names the line",
        ),
        pytest.param(
            MINIMAL + "fewshot: 2\n\tname: x\n",
            "tea.yaml line 5: not valid YAML (found character '\\t' that cannot start any token)",
            id="tab",
        ),
        pytest.param(
            MINIMAL + "critics:\n  length: {min_words: 3}\n  length: {max_words: 9}\n",
            "tea.yaml line 6: not valid YAML (duplicate key 'length')",
            id="duplicate key names the line",
        ),
        pytest.param("- tea\n- coffee\n", "tea.yaml: expected a mapping of campaign settings", id="a list"),
        pytest.param("", "tea.yaml: expected a mapping of campaign settings", id="empty"),
        pytest.param(
            MINIMAL + "colour: red\n", "tea.yaml: colour: Extra inputs are not permitted", id="unknown key"
        ),
        pytest.param(
            MINIMAL + "generator: {params: {temprature: 1}}\n",
            "tea.yaml: generator.params.temprature: Extra inputs are not permitted",
            id="unknown nested key",
        ),
        pytest.param(
            "slug: Tea Time\nsource: tea\ncount: 4\n",
            "tea.yaml: slug: String should match pattern '^[a-z0-9][a-z0-9_-]{0,99}$'",
            id="bad slug",
        ),
        pytest.param("slug: tea\nsource: tea\n", "tea.yaml: count: Field required", id="no count"),
        pytest.param(
            "slug: tea\ncount: 4\nsource: ''\n",
            "tea.yaml: source: String should have at least 1 character",
            id="empty source",
        ),
        pytest.param(
            MINIMAL + "name: " + "n" * 201 + "\n",
            "tea.yaml: name: String should have at most 200 characters",
            id="name too long",
        ),
        pytest.param(
            MINIMAL
            + "prompt_template: |\n  Examples:\n  {% for ex in examples %}{{ ex.prompt }\n  {% endfor %}\n",
            "tea.yaml: prompt_template (line 2): unexpected '}'",
            id="broken template",
        ),
        pytest.param(
            MINIMAL + "prompt_template: |\n  Examples:\n  {% for ex in examples %}{{ ex.prompt }}\n",
            "tea.yaml: prompt_template (line 2): Unexpected end of template. Jinja was looking for the "
            "following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.",
            id="unclosed block",
        ),
        pytest.param(
            MINIMAL + "prompt_template: |\n  Count: {{ examples | length }}\n  {{ 1 / 0 }}\n",
            "tea.yaml: prompt_template (line 2): division by zero",
            id="template fails when rendered",
        ),
        pytest.param(
            MINIMAL + "prompt_template: \"{{ ''.__class__.__mro__ }}\"\n",
            "tea.yaml: prompt_template (line 1): access to attribute '__class__' of 'str' object is unsafe.",
            id="template reaching for internals",
        ),
        pytest.param(
            MINIMAL + "critics: {lenght: {min_words: 3}}\n",
            "tea.yaml: critics.lenght: unknown critic "
            "(known: contamination, duplicate, format, judge, learned, length, near_duplicate, refusal, "
            "repetition, semantic, truncation)",
            id="unknown critic",
        ),
        pytest.param(
            MINIMAL + "critics: {length: {min: 3}}\n",
            "tea.yaml: critics.length: unknown setting 'min' (known: max_words, min_words)",
            id="unknown critic setting",
        ),
        pytest.param(
            MINIMAL + "critics: {length: {min_words: five}}\n",
            "tea.yaml: critics.length.min_words: must be int, not 'five'",
            id="critic setting of the wrong type",
        ),
        pytest.param(
            MINIMAL + "diversity: {examples: [a]}\n",
            "tea.yaml: diversity: attribute 'examples' must be a plain identifier other than 'examples'",
            id="attribute named examples",
        ),
        pytest.param(
            MINIMAL + "diversity: {topic: []}\n",
            "tea.yaml: diversity: attribute 'topic' needs at least one value",
            id="attribute without values",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: llamacpp}\n",
            "tea.yaml: generator.backend: Input should be 'transformers', 'vllm' or 'openai'",
            id="unknown backend",
        ),
        pytest.param(
            MINIMAL + "review: {per_item: 0}\n",
            "tea.yaml: review.per_item: Input should be greater than or equal to 1",
            id="no reviews",
        ),
        pytest.param(
            MINIMAL + "review: {per_item: 11}\n",
            "tea.yaml: review.per_item: Input should be less than or equal to 10",
            id="too many reviews per item",
        ),
        pytest.param(
            MINIMAL + "review: {overlap: 1.5}\n",
            "tea.yaml: review.overlap: Input should be less than or equal to 1",
            id="overlap beyond every item",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: openai}\n",
            "tea.yaml: generator.base_url: backend openai needs the endpoint, e.g. http://host:8000/v1",
            id="openai without an endpoint",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: openai, base_url: 'ftp://h/v1'}\n",
            "tea.yaml: generator.base_url: 'ftp://h/v1' is not an http(s) URL",
            id="openai endpoint not http",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: openai, base_url: 'http://u:secret@h/v1'}\n",
            "tea.yaml: generator.base_url: no credentials in the URL; use api_key_env",
            id="a key in the URL",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: openai, base_url: 'http://h/v1', api_key_env: 'sk-123'}\n",
            "tea.yaml: generator.api_key_env: String should match pattern '^[A-Za-z_][A-Za-z0-9_]{0,127}$'",
            id="a key where its variable's name goes",
        ),
        pytest.param(
            MINIMAL + "generator: {concurrency: 4}\n",
            "tea.yaml: generator.concurrency: only backend openai takes endpoint settings",
            id="endpoint settings for a local engine",
        ),
        pytest.param(
            MINIMAL + "generator: {output: json}\n",
            "tea.yaml: generator.output: json needs guided decoding, which backends vllm and openai have "
            "and transformers has not",
            id="json output without guided decoding",
        ),
        pytest.param(
            MINIMAL + "generator: {backend: vllm, queue: cpu}\n",
            "tea.yaml: generator.queue: cpu is the critics' queue; generation runs on gpu or its own",
            id="generation on the critics' queue",
        ),
        pytest.param(
            MINIMAL + "generator: {params: {n: 0}}\n",
            "tea.yaml: generator.params.n: Input should be greater than or equal to 1",
            id="no samples per prompt",
        ),
        pytest.param(
            MINIMAL + "mixture: {max_synthetic: 1.5}\n",
            "tea.yaml: mixture.max_synthetic: Input should be less than 1",
            id="synthetic share too high",
        ),
    ],
)
def test_a_bad_config_is_refused_in_one_line_naming_the_field(text, message):
    assert refused(text) == message


def test_a_template_may_use_every_diversity_attribute():
    config = load_yaml(
        MINIMAL
        + "diversity: {persona: [novice]}\n"
        + "prompt_template: 'For a {{ persona }}: {{ examples[0].prompt }}'\n",
        origin="tea.yaml",
    )
    assert config.diversity == {"persona": ["novice"]}


def write_config(tmp_path, text: str):
    path = tmp_path / "tea.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def create(path) -> str:
    out = StringIO()
    call_command("create_campaign", str(path), stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_create_campaign_creates_then_updates_by_slug(tea_sources, tmp_path):
    path = write_config(tmp_path, MINIMAL + "name: Tea\n")
    assert create(path) == "created campaign tea"
    campaign = Campaign.objects.get(slug="tea")
    assert (campaign.name, campaign.count, campaign.source.name, campaign.status) == (
        "Tea",
        4,
        "tea",
        CampaignStatus.DRAFT,
    )
    assert campaign.config["review"] == {
        "per_item": 1,
        "overlap": 0.0,
        "reasons": [list(pair) for pair in DEFAULT_REASONS.items()],
        "guidelines": "",
    }

    write_config(tmp_path, "slug: tea\nsource: tea\ncount: 12\nname: More tea\ntask: chat\n")
    assert create(path) == "updated campaign tea"
    assert Campaign.objects.count() == 1
    campaign.refresh_from_db()
    assert (campaign.name, campaign.count, campaign.task) == ("More tea", 12, "chat")
    assert campaign.config["count"] == 12


def test_create_campaign_refuses_an_unknown_source(tea_sources, tmp_path):
    path = write_config(tmp_path, "slug: tea\nsource: coffee\ncount: 4\n")
    with pytest.raises(CommandError) as error:
        create(path)
    assert str(error.value) == f"{path}: source: no source named 'coffee' (import it with import_examples)"
    assert not Campaign.objects.exists()


def test_create_campaign_names_the_file_and_line_of_bad_yaml(db, tmp_path):
    path = write_config(tmp_path, MINIMAL + "critics: [length\n")
    with pytest.raises(CommandError) as error:
        create(path)
    assert str(error.value) == f"{path} line 5: not valid YAML (expected ',' or ']', but got '<stream end>')"


def test_create_campaign_refuses_a_missing_file(db, tmp_path):
    with pytest.raises(CommandError, match=r"nowhere\.yaml: cannot read \(\[Errno 2\] No such file"):
        create(tmp_path / "nowhere.yaml")
