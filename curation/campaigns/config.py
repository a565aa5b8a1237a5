"""The campaign config (CONTRACT "Campaign config"), validated where it enters:
YAML from `create_campaign`, the admin form, the API."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from curation.core.errors import InvalidInput
from workers.critics import CriticSettingsError, build_panel
from workers.critics.judge import Rubric
from workers.generation import BACKENDS, DEFAULT_MODEL
from workers.generation.prompts import DEFAULT_TEMPLATE, TemplateProblem, check_template

SLUG = r"^[a-z0-9][a-z0-9_-]{0,99}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingConfig(_Strict):
    temperature: float = Field(0.8, ge=0, le=5)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(256, ge=1, le=32768)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    n: int = Field(1, ge=1, le=64)  # samples per rendered prompt, each with its own seed


QUEUE = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


class GeneratorConfig(_Strict):
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    model: str = DEFAULT_MODEL
    params: SamplingConfig = SamplingConfig()
    # `json`: the model must answer {"prompt": ..., "response": ...}, enforced by guided
    # decoding (vllm, openai); `text`: free text read as "Q: ... A: ...".
    output: Literal["text", "json"] = "text"
    # The Celery queue its batches go to: one model per GPU worker process, so campaigns of
    # another model get their own queue and their own workers (`-Q <queue>`).
    queue: str = Field("gpu", pattern=QUEUE)
    # OpenAI-compatible endpoint (backend openai only).
    base_url: str | None = None
    api_key_env: str | None = Field(None, pattern=ENV_NAME)  # the variable's NAME, never the key
    concurrency: int = Field(8, ge=1, le=256)  # requests in flight from one worker process
    timeout_s: float = Field(60, gt=0, le=3600)
    max_retries: int = Field(5, ge=0, le=20)

    @model_validator(mode="after")
    def _fits_backend(self) -> GeneratorConfig:
        if self.queue == "cpu":
            raise ValueError("generator.queue: cpu is the critics' queue; generation runs on gpu or its own")
        endpoint = {"base_url", "api_key_env", "concurrency", "timeout_s", "max_retries"}
        if self.backend == "openai":
            if not self.base_url:
                raise ValueError(
                    "generator.base_url: backend openai needs the endpoint, e.g. http://host:8000/v1"
                )
            url = urlsplit(self.base_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ValueError(f"generator.base_url: {self.base_url!r} is not an http(s) URL")
            if url.username or url.password:
                raise ValueError("generator.base_url: no credentials in the URL; use api_key_env")
        elif given := sorted(f for f in endpoint if getattr(self, f) != type(self).model_fields[f].default):
            raise ValueError(f"generator.{given[0]}: only backend openai takes endpoint settings")
        if self.output == "json" and self.backend == "transformers":
            raise ValueError(
                "generator.output: json needs guided decoding, which backends vllm and openai have "
                "and transformers has not"
            )
        return self

    def backend_options(self) -> dict[str, Any]:
        """The keyword arguments of `get_backend` for this generator."""
        if self.backend != "openai":
            return {}
        return {
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "concurrency": self.concurrency,
            "timeout_s": self.timeout_s,
            "max_retries": self.max_retries,
        }


class JudgeConfig(_Strict):
    """`critics.judge`: an LLM judges quality against a rubric. Off unless the block is given
    (a campaign pays for judge calls only when its admin asks). The judge model defaults to
    the campaign's generator; `generator` names another (an endpoint, a bigger model)."""

    enabled: bool = True
    generator: GeneratorConfig | None = None
    principles: list[Any] | None = None
    floor: float = 0.5
    scale: int = 5
    max_tokens: int = Field(256, ge=16, le=4096)
    # Critique and revise: a candidate below the floor goes back to the campaign's generator with
    # the judge's critique; the rewrite is a new, machine-revised candidate scored like any other.
    revise: bool = False

    @model_validator(mode="after")
    def _rubric(self) -> JudgeConfig:
        self.rubric()  # refused here, where the config enters, not inside a worker
        return self

    def rubric(self) -> Rubric:
        raw: dict[str, Any] = {"floor": self.floor, "scale": self.scale}
        if self.principles is not None:
            raw["principles"] = self.principles
        return Rubric.from_config(raw)


class LearnedConfig(_Strict):
    """`critics.learned`: a classifier trained on this campaign's expert decisions orders the
    review queue (`order`), and once its cross-validated calibration is good enough rejects
    what it is confident experts would reject (`floor`, reason `learned`)."""

    enabled: bool = True
    order: Literal["uncertain", "likely"] = "uncertain"
    floor: float = Field(0.1, ge=0, le=1)


# The reason codes an expert's rejection may carry, with what they mean (review.reasons).
DEFAULT_REASONS = {
    "wrong": "factually wrong",
    "unhelpful": "does not answer",
    "unsafe": "unsafe or inappropriate",
    "off-topic": "off topic",
    "low-quality": "badly written",
    "duplicate": "repeats known data",
}


class ReviewConfig(_Strict):
    per_item: int = Field(1, ge=1, le=10)
    overlap: float = Field(0.0, ge=0, le=1)
    # code -> label; page and API accept these codes and no other
    reasons: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_REASONS))
    # what experts read on the review page (Markdown; raw HTML is shown as text)
    guidelines: str = Field("", max_length=20_000)

    @field_validator("reasons", mode="before")
    @classmethod
    def _reason_pairs(cls, value: Any) -> Any:
        # Stored as [[code, label], ...]: PostgreSQL's jsonb reorders an object's keys, and
        # the page numbers the reasons (keys 1-9) in the order the admin wrote them.
        if isinstance(value, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
            return {str(code): label for code, label in value}
        return value

    @field_serializer("reasons")
    def _reasons_in_order(self, value: dict[str, str]) -> list[list[str]]:
        return [[code, label] for code, label in value.items()]

    @field_validator("reasons")
    @classmethod
    def _reason_codes(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("review.reasons needs at least one reason code")
        for code in value:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", code):
                raise ValueError(
                    f"review.reasons: {code!r} is not a code (lower-case letters, digits, - and _)"
                )
        return value

    def needed(self, key: str) -> int:
        """How many distinct experts must decide the candidate named `key`: `per_item`, or at
        least 2 for the seeded `overlap` share (a hash of the key, so every process agrees
        and a rerun draws the same items)."""
        draw = int.from_bytes(hashlib.sha256(f"overlap:{key}".encode()).digest()[:8], "big") / 2**64
        return max(self.per_item, 2) if draw < self.overlap else self.per_item


class MixtureConfig(_Strict):
    max_synthetic: float = Field(0.3, ge=0, lt=1)
    balance_by: str | None = None
    max_depth: int = Field(1, ge=1, le=100)
    # The largest share of an export's synthetic rows one generator model may supply.
    max_per_generator: float | None = Field(None, gt=0, le=1)


class AlarmConfig(_Strict):
    """`alarm`: the diversity alarm fires when a watched metric falls more than `drop`
    below the human data (or below the previous generation depth)."""

    drop: float = Field(0.15, gt=0, lt=1)


ARGILLA_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"


class ArgillaConfig(_Strict):
    """`argilla`: the campaign's candidates are also reviewed in an Argilla dataset (issue 10).
    The API key is not here but in ASSAY_ARGILLA_API_KEY, so a config stays portable; a
    missing key is an error of the sync, not of the config."""

    url: str = Field(max_length=2000)
    workspace: str = Field(pattern=ARGILLA_NAME)
    dataset: str = Field(pattern=ARGILLA_NAME)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"argilla.url must be an http or https URL, not {value!r}")
        return value.rstrip("/")


class CampaignConfig(_Strict):
    slug: str = Field(pattern=SLUG)
    name: str = Field("", max_length=200)  # Campaign.name
    task: Literal["instruction", "chat"] = "instruction"
    source: str = Field(min_length=1)
    count: int = Field(ge=1, le=10_000_000)
    generator: GeneratorConfig = GeneratorConfig()
    prompt_template: str = DEFAULT_TEMPLATE
    fewshot: int = Field(3, ge=0, le=32)  # seed examples per prompt
    diversity: dict[str, list[str]] = Field(default_factory=dict)
    critics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    review: ReviewConfig = ReviewConfig()
    mixture: MixtureConfig = MixtureConfig()
    alarm: AlarmConfig = AlarmConfig()
    argilla: ArgillaConfig | None = None

    @field_validator("diversity")
    @classmethod
    def _attributes_are_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in value.items():
            if not name.isidentifier() or name == "examples":
                raise ValueError(f"attribute {name!r} must be a plain identifier other than 'examples'")
            if not values:
                raise ValueError(f"attribute {name!r} needs at least one value")
        return value

    @field_validator("critics", mode="before")
    @classmethod
    def _no_null_critics(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if v is not None else {}) for k, v in value.items()}
        return value

    @property
    def judge(self) -> JudgeConfig | None:
        raw = self.critics.get("judge")
        if raw is None:
            return None
        judge = JudgeConfig.model_validate(raw)
        if not judge.enabled:
            return None
        if judge.generator is None:  # the campaign's own model, judging deterministically
            params = self.generator.params.model_copy(update={"temperature": 0.0})
            judge.generator = self.generator.model_copy(update={"params": params, "output": "text"})
        return judge

    @property
    def learned(self) -> LearnedConfig | None:
        learned = LearnedConfig.model_validate(self.critics.get("learned") or {})
        return learned if learned.enabled else None

    @model_validator(mode="after")
    def _check_parts(self) -> CampaignConfig:
        if not self.name:
            self.name = self.slug
        for key, model in (("judge", JudgeConfig), ("learned", LearnedConfig)):
            try:
                model.model_validate(self.critics.get(key) or {})
            except ValidationError as e:
                msg = _first_error(e)
                raise ValueError(msg if msg.startswith("critics.") else f"critics.{key}.{msg}") from e
        if self.generator.backend not in BACKENDS:
            raise ValueError(f"generator.backend {self.generator.backend!r} is not available")
        try:
            build_panel(self.critics)
        except CriticSettingsError as e:
            raise ValueError(str(e)) from e
        sample_row = {"prompt": "a question?", "response": "an answer."}
        sample = {"examples": [sample_row], **{k: v[0] for k, v in self.diversity.items()}}
        try:
            check_template(self.prompt_template, sample)
        except TemplateProblem as e:
            raise ValueError(str(e)) from e
        return self


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    # Whole-config and whole-section checks name the field in their message themselves.
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {msg}" if where and not msg.startswith(where) else msg


def parse_config(data: Any, *, origin: str = "config") -> CampaignConfig:
    if not isinstance(data, dict):
        raise InvalidInput(f"{origin}: expected a mapping of campaign settings")
    try:
        return CampaignConfig.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(f"{origin}: {_first_error(e)}") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys without a word, so a config with two
    `critics:` blocks would silently lose the first; refuse it with its line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                pass
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, *, origin: str) -> CampaignConfig:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise InvalidInput(f"{origin}{line}: not valid YAML ({getattr(e, 'problem', e)})") from None
    return parse_config(data, origin=origin)


@functools.lru_cache(maxsize=256)
def _stored(canonical: str) -> CampaignConfig:
    return CampaignConfig.model_validate_json(canonical)


def stored_config(data: dict[str, Any]) -> CampaignConfig:
    """A campaign's stored config, validated once per process and content (the workers read
    it for every batch; validating renders the template and builds the critic panel).
    Shared: never mutate the result."""
    return _stored(json.dumps(data, sort_keys=True))
