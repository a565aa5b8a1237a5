"""Prompt building: sandboxed Jinja2 templates, few-shot seeds and diversity attributes.

Every choice is a pure function of (seed, slot), so a retried batch renders the same
prompts and the lineage of a candidate can be recomputed."""

from __future__ import annotations

import functools
import random
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

_MAX_BUILT = 1_000_000  # characters, items or bits one `*` or `**` in a template may build


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's sandbox leaves `*` and `**` alone (and folds constants at compile time), so
    `{{ 9**999999999 }}` would hang the create_campaign check or a worker; an intercepted
    operator is never folded, and this bounds what one operation builds."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        ints = isinstance(left, int) and isinstance(right, int)
        if operator == "**" and ints and abs(left) > 1 and right * abs(left).bit_length() > _MAX_BUILT:
            raise SecurityError(f"{left} ** {right} is too large for a prompt template")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > _MAX_BUILT:
                    raise SecurityError(f"repeating a {type(seq).__name__} {n} times is too large")
        return super().call_binop(context, operator, left, right)


# Autoescape off: the output is a prompt for a model, never HTML. Sandboxed: a template
# is admin input and must not reach Python internals.
_env = _Sandbox(autoescape=False, keep_trailing_newline=True)

DEFAULT_TEMPLATE = """Here are examples of questions and answers{% if topic %} about {{ topic }}{% endif %}.
{% for ex in examples %}
Q: {{ ex.prompt }}
A: {{ ex.response }}
{% endfor %}
Write one new question{% if topic %} about {{ topic }}{% endif %} and its answer in the same style. \
Reply as "Q: <question>" on one line, then "A: <answer>".
"""


class TemplateProblem(ValueError):
    """A template that does not compile or render; the message names the problem."""


def check_template(template: str, sample: Mapping[str, Any]) -> None:
    """Compile and render once with sample values, so a broken template fails at
    create_campaign, not inside a worker."""
    render(template, sample)


@functools.lru_cache(maxsize=64)
def _compiled(template: str) -> Template:
    # Compiling is the costly part and a campaign renders one template many times.
    return _env.from_string(template)


def render(template: str, context: Mapping[str, Any]) -> str:
    try:
        return _compiled(template).render(**context).strip()
    except TemplateError as e:
        raise TemplateProblem(f"prompt_template{_line(e)}: {e.message or e}") from e
    except Exception as e:
        # Template expressions run Python operations: `{{ 1/0 }}`, `{{ 'a' + 1 }}` or a
        # too-large range raise plain errors, which are still the template's fault.
        raise TemplateProblem(f"prompt_template{_line(e)}: {e or type(e).__name__}") from e


def _line(e: BaseException) -> str:
    line = getattr(e, "lineno", None)
    if not line:
        # Jinja rewrites runtime tracebacks so that template frames carry template lines.
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "<template>"]
        line = frames[-1].lineno if frames else None
    return f" (line {line})" if line else ""


def attributes_for(slot: int, diversity: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Mixed-radix walk over the attribute values: consecutive slots cover every
    combination before any repeats (better coverage than independent draws)."""
    chosen, stride = {}, 1
    for name in sorted(diversity):
        values = list(diversity[name])
        if values:
            chosen[name] = values[(slot // stride) % len(values)]
            stride *= len(values)
    return chosen


def fewshot_for(
    slot: int,
    seed: int,
    pool: Sequence[tuple[int, Mapping[str, Any]]],
    k: int,
    attributes: Mapping[str, str],
) -> list[int]:
    """Pick k example ids for a slot. Examples whose metadata match the slot's attributes
    (e.g. the same `topic`) come first; when too few match, the rest are drawn from
    the whole pool."""
    rng = random.Random(f"{seed}:{slot}")  # noqa: S311 - sampling, not security
    matching = [i for i, meta in pool if attributes and all(meta.get(a) == v for a, v in attributes.items())]
    chosen = rng.sample(matching, min(k, len(matching)))
    if len(chosen) < k:
        taken = set(chosen)
        rest = [i for i, _ in pool if i not in taken]
        chosen += rng.sample(rest, min(k - len(chosen), len(rest)))
    return chosen
