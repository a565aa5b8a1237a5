"""Exported records (CONTRACT "Exported record"): the sample, its metadata and the
provenance of DESIGN.md. Pure functions of stored rows, so reruns are byte-identical."""

from __future__ import annotations

from typing import Any

from curation.campaigns.models import Candidate, Origin
from curation.sources.models import Example
from workers.critics.text import content_sha256, edit_distance


def _sample(prompt: str, response: str, messages: list | None) -> dict[str, Any]:
    if messages is not None:
        return {"messages": messages}
    return {"prompt": prompt, "response": response}


def human_record(example: Example) -> dict[str, Any]:
    sample = _sample(example.prompt, example.response, example.messages)
    return {
        "id": example.public_id,
        **sample,
        "metadata": example.metadata,
        "provenance": {
            "origin": Origin.HUMAN.value,
            "source": example.source.name,
            "license": example.source.license,
            "campaign": None,
            "generator": None,
            "generation_depth": 0,
            "parents": [],
            "critics": {},
            "review": None,
            "content_sha256": content_sha256(sample),
            "created_at": example.created_at.isoformat(),
        },
    }


def _edited_messages(candidate: Candidate) -> list | None:
    """A chat sample with the expert's edits: the edited response replaces the assistant's
    turn, the edited prompt the user's turn that was the prompt (else the last user turn)."""
    messages = candidate.messages
    if messages is None:
        return None
    out = [dict(m) for m in messages]
    if candidate.edited_response is not None:
        for m in out:
            if m["role"] == "assistant":
                m["content"] = candidate.edited_response
    if candidate.edited_prompt is not None:
        users = [m for m in out if m["role"] == "user"]
        match = [m for m in users if m["content"] == candidate.prompt]
        if match or users:
            (match or users)[-1]["content"] = candidate.edited_prompt
    return out


def synthetic_record(
    candidate: Candidate, *, reviewers: list[str], prompt_template: str, adjudicated_by: str | None = None
) -> dict[str, Any]:
    edited = candidate.edited_response is not None or candidate.edited_prompt is not None
    sample = _sample(candidate.final_prompt, candidate.final_response, _edited_messages(candidate))
    return {
        "id": candidate.public_id,
        **sample,
        "metadata": candidate.metadata,
        "provenance": {
            "origin": candidate.origin,
            "source": candidate.campaign.source.name,
            "campaign": candidate.campaign.slug,
            "generator": {**candidate.generator, "prompt_template": prompt_template, "seed": candidate.seed},
            "generation_depth": candidate.generation_depth,
            "parents": candidate.parents,
            "critics": {s.critic: s.score for s in sorted(candidate.scores.all(), key=lambda s: s.critic)},
            "review": {
                "decision": "edit" if edited else "accept",
                "reviewers": reviewers,
                "edited": edited,
                "edit_distance": _edit_distance(candidate),
                **({"adjudicated_by": adjudicated_by} if adjudicated_by else {}),
                # The generator's own text, kept beside the expert's edit.
                **(
                    {"original": {"prompt": candidate.prompt, "response": candidate.response}}
                    if edited
                    else {}
                ),
            },
            "content_sha256": content_sha256(sample),
            "created_at": candidate.created_at.isoformat(),
        },
    }


def _edit_distance(candidate: Candidate) -> int:
    """Words changed by the expert's edits, prompt and response together."""
    return edit_distance(
        (candidate.prompt, candidate.response), (candidate.edited_prompt, candidate.edited_response)
    )
