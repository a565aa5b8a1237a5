"""Exported records (CONTRACT "Exported record"): the sample, its metadata and the
provenance of DESIGN.md. Pure functions of stored rows, read as plain values (an export
streams a million of them: no model instances), so reruns are byte-identical."""

from __future__ import annotations

from typing import Any

from curation.campaigns.models import Origin
from workers.critics.text import content_sha256, edit_distance

# The columns each builder reads, in `.values()` form.
EXAMPLE_FIELDS = (
    "pk",
    "external_id",
    "prompt",
    "response",
    "messages",
    "metadata",
    "created_at",
    "source_id",
)
CANDIDATE_FIELDS = (
    "pk",
    "external_id",
    "prompt",
    "response",
    "messages",
    "edited_prompt",
    "edited_response",
    "metadata",
    "generator",
    "seed",
    "generation_depth",
    "parents",
    "created_at",
    "batch_id",
    "campaign_id",
)


def _sample(prompt: str, response: str, messages: list | None) -> dict[str, Any]:
    if messages is not None:
        return {"messages": messages}
    return {"prompt": prompt, "response": response}


def is_edited(row: dict[str, Any]) -> bool:
    return row["edited_response"] is not None or row["edited_prompt"] is not None


def human_record(row: dict[str, Any], *, source: str, license: str) -> dict[str, Any]:
    sample = _sample(row["prompt"], row["response"], row["messages"])
    return {
        "id": row["external_id"] or f"example-{row['pk']}",
        **sample,
        "metadata": row["metadata"],
        "provenance": {
            "origin": Origin.HUMAN.value,
            "source": source,
            "license": license,
            "campaign": None,
            "generator": None,
            "generation_depth": 0,
            "parents": [],
            "critics": {},
            "review": None,
            "content_sha256": content_sha256(sample),
            "created_at": row["created_at"].isoformat(),
        },
    }


def _edited_messages(row: dict[str, Any]) -> list | None:
    """A chat sample with the expert's edits: the edited response replaces the assistant's
    turn, the edited prompt the user's turn that was the prompt (else the last user turn)."""
    messages = row["messages"]
    if messages is None:
        return None
    out = [dict(m) for m in messages]
    if row["edited_response"] is not None:
        for m in out:
            if m["role"] == "assistant":
                m["content"] = row["edited_response"]
    if row["edited_prompt"] is not None:
        users = [m for m in out if m["role"] == "user"]
        match = [m for m in users if m["content"] == row["prompt"]]
        if match or users:
            (match or users)[-1]["content"] = row["edited_prompt"]
    return out


def synthetic_record(
    row: dict[str, Any],
    *,
    source: str,
    campaign: str,
    critics: dict[str, float | None],
    reviewers: list[str],
    prompt_template: str,
    adjudicated_by: str | None = None,
) -> dict[str, Any]:
    edited = is_edited(row)
    prompt = row["edited_prompt"] if row["edited_prompt"] is not None else row["prompt"]
    response = row["edited_response"] if row["edited_response"] is not None else row["response"]
    sample = _sample(prompt, response, _edited_messages(row))
    return {
        "id": row["external_id"] or f"candidate-{row['pk']}",
        **sample,
        "metadata": row["metadata"],
        "provenance": {
            "origin": (Origin.SYNTHETIC_EDITED if edited else Origin.SYNTHETIC).value,
            "source": source,
            "campaign": campaign,
            "generator": {**row["generator"], "prompt_template": prompt_template, "seed": row["seed"]},
            "generation_depth": row["generation_depth"],
            "parents": row["parents"],
            "critics": critics,
            "review": {
                "decision": "edit" if edited else "accept",
                "reviewers": reviewers,
                "edited": edited,
                "edit_distance": _edit_distance(row) if edited else 0,
                **({"adjudicated_by": adjudicated_by} if adjudicated_by else {}),
                # The generator's own text, kept beside the expert's edit.
                **({"original": {"prompt": row["prompt"], "response": row["response"]}} if edited else {}),
            },
            "content_sha256": content_sha256(sample),
            "created_at": row["created_at"].isoformat(),
        },
    }


def _edit_distance(row: dict[str, Any]) -> int:
    """Words changed by the expert's edits, prompt and response together."""
    return edit_distance((row["prompt"], row["response"]), (row["edited_prompt"], row["edited_response"]))
