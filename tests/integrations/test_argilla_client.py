"""The Argilla bridge against the real Argilla 2.8.0 test server: the dataset it makes, records
pushed and removed by Assay's ids, two experts' answers pulled back, and one-line errors.

The server is shared by the session, so each test has its own dataset."""

from __future__ import annotations

import dataclasses
import socket
import time
from datetime import datetime

import httpx
import pytest

pytestmark = pytest.mark.slow

rg = pytest.importorskip("argilla", reason="the argilla extra is not installed (pip install -e '.[argilla]')")

from curation.integrations.argilla.client import (  # noqa: E402
    EDITED,
    Answer,
    ArgillaError,
    DatasetSpec,
    Item,
    Target,
    answers_pull,
    dataset_ensure,
    health,
    records_push,
    records_remove,
    users_ensure,
)

WORKSPACE = "bridge"
SPEC = DatasetSpec(
    guidelines="# Tea answers\n\nAccept what a tea shop would print.",
    reasons={"factual": "States something false", "repetition": "Repeats itself", "tone": "Rude"},
    critics=["fluency", "toxicity"],
    vector_dims=3,
    min_submitted=1,
    metadata_terms=["topic"],
)
ITEMS = [
    Item(
        id="c1",
        prompt="What is green tea?",
        response="Green tea is steamed or pan-fired.",
        critics={"fluency": 0.9, "toxicity": 0.01},
        metadata={"topic": "kinds", "source": "not sent"},
        vector=[0.1, 0.2, 0.3],
    ),
    Item(
        id="c2",
        prompt="How hot for oolong?",
        response="Brew oolong at 90 degrees.",
        critics={"fluency": 0.4, "toxicity": None},
        metadata={"topic": "brewing"},
        vector=[0.3, 0.2, 0.1],
    ),
    Item(
        id="c3",
        prompt="",
        response="Tea tea tea tea.",
        critics={"fluency": 0.1, "toxicity": 0.0},
        metadata={},
        vector=None,
    ),
]


def _target(server, dataset: str, **changes) -> Target:
    target = Target(url=server["url"], api_key=server["api_key"], workspace=WORKSPACE, dataset=dataset)
    return dataclasses.replace(target, timeout_s=10, **changes)


def _owner(server):
    return rg.Argilla(api_url=server["url"], api_key=server["api_key"])


def _dataset(server, target: Target):
    return _owner(server).datasets(target.dataset, workspace=target.workspace)


def _records(dataset, **conditions) -> dict:
    query = rg.Query(filter=rg.Filter(list(conditions.values()))) if conditions else None
    return {record.id: record for record in dataset.records(query=query, with_vectors=True)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_dataset_ensure_creates_the_dataset_once(argilla_server):
    target = _target(argilla_server, "ensure")

    dataset_id = dataset_ensure(target, SPEC)

    dataset = _dataset(argilla_server, target)
    assert str(dataset.id) == dataset_id
    assert [(f.name, f.use_markdown, f.required) for f in dataset.fields] == [
        ("prompt", False, False),
        ("response", False, True),
    ]
    questions = {q.name: q for q in dataset.questions}
    assert list(questions) == ["decision", EDITED, "reasons", "note"]
    assert (questions["decision"].labels, questions["decision"].required) == (["accept", "reject"], True)
    assert questions["reasons"].labels == ["factual", "repetition", "tone"]
    assert not any(questions[name].required for name in (EDITED, "reasons", "note"))
    assert {p.name: type(p) for p in dataset.settings.metadata} == {
        "critic_fluency": rg.FloatMetadataProperty,
        "critic_toxicity": rg.FloatMetadataProperty,
        "topic": rg.TermsMetadataProperty,
    }
    assert [(v.name, v.dimensions) for v in dataset.settings.vectors] == [("embedding", 3)]
    assert dataset.guidelines == SPEC.guidelines
    assert dataset.distribution.min_submitted == 1

    assert dataset_ensure(target, SPEC) == dataset_id
    assert [d.name for d in _owner(argilla_server).workspaces(WORKSPACE).datasets].count("ensure") == 1


def test_dataset_ensure_adds_a_new_critic_and_refuses_other_reasons(argilla_server):
    target = _target(argilla_server, "ensure-changes")
    dataset_id = dataset_ensure(target, SPEC)

    with_critic = dataclasses.replace(SPEC, critics=[*SPEC.critics, "length"])
    assert dataset_ensure(target, with_critic) == dataset_id
    assert "critic_length" in {p.name for p in _dataset(argilla_server, target).settings.metadata}

    other_reasons = dataclasses.replace(SPEC, reasons={"factual": "False", "verbosity": "Too long"})
    with pytest.raises(ArgillaError, match=r"'reasons' labels differ \(missing \['verbosity'\]") as caught:
        dataset_ensure(target, other_reasons)
    assert target.url in str(caught.value)
    assert "\n" not in str(caught.value)

    with pytest.raises(ArgillaError, match="a question 'reasons' the campaign does not have"):
        dataset_ensure(target, dataclasses.replace(SPEC, reasons={}))
    with pytest.raises(ArgillaError, match="vector 'embedding' has 3 dimensions, not 8"):
        dataset_ensure(target, dataclasses.replace(SPEC, vector_dims=8))


def test_records_push_upserts_by_id(argilla_server):
    target = _target(argilla_server, "push")
    dataset_ensure(target, SPEC)

    assert records_push(target, SPEC, ITEMS) == 3
    assert records_push(target, SPEC, ITEMS) == 3

    dataset = _dataset(argilla_server, target)
    records = _records(dataset)
    assert sorted(records) == ["c1", "c2", "c3"]
    assert dataset.progress()["total"] == 3
    c1 = records["c1"]
    assert dict(c1.fields) == {
        "prompt": "What is green tea?",
        "response": "Green tea is steamed or pan-fired.",
    }
    assert dict(c1.metadata) == {"critic_fluency": 0.9, "critic_toxicity": 0.01, "topic": "kinds"}
    assert dict(records["c2"].metadata) == {"critic_fluency": 0.4, "topic": "brewing"}
    assert c1.vectors["embedding"] == pytest.approx([0.1, 0.2, 0.3])
    assert records["c3"].vectors == {}
    assert "prompt" not in records["c3"].fields
    suggestion = c1.suggestions[EDITED]
    assert (suggestion.value, suggestion.agent, suggestion.type) == (ITEMS[0].response, "assay", "model")
    assert [s.question_name for s in c1.suggestions] == [EDITED]

    fluent = _records(dataset, fluency=("metadata.critic_fluency", ">=", 0.35))
    assert sorted(fluent) == ["c1", "c2"]
    assert list(_records(dataset, topic=("metadata.topic", "==", "brewing"))) == ["c2"]


def test_records_remove_deletes_by_id_and_skips_missing_ones(argilla_server):
    target = _target(argilla_server, "remove")
    dataset_ensure(target, SPEC)
    records_push(target, SPEC, ITEMS)

    assert records_remove(target, ["c1", "c1", "never-pushed"]) == 1
    assert sorted(_records(_dataset(argilla_server, target))) == ["c2", "c3"]
    assert records_remove(target, ["c1"]) == 0
    assert records_remove(target, []) == 0


class Expert:
    """An Argilla annotator answering through the REST API with their own key."""

    def __init__(self, server, target: Target, username: str) -> None:
        self.username = username
        self.id = users_ensure(target, username, f"{username}-pass-123")
        owner = _owner(server)
        key = owner.http_client.get(f"/api/v1/users/{self.id}").json()["api_key"]
        self.http = httpx.Client(base_url=server["url"], headers={"X-Argilla-Api-Key": key}, timeout=10)
        self.server_ids = {r.id: r._server_id for r in _dataset(server, target).records}

    def answer(self, record_id: str, status: str, **values) -> None:
        body = {"status": status, "values": {k: {"value": v} for k, v in values.items()}}
        response = self.http.post(f"/api/v1/records/{self.server_ids[record_id]}/responses", json=body)
        assert response.status_code == 201, response.text


def test_answers_pull_returns_each_experts_submitted_and_discarded_answers(argilla_server):
    target = _target(argilla_server, "answers")
    dataset_ensure(target, SPEC)
    records_push(target, SPEC, ITEMS)
    alice = Expert(argilla_server, target, "alice")
    bob = Expert(argilla_server, target, "bob")
    assert users_ensure(target, "alice", "ignored-password") == alice.id

    # A browser's CRLF and trailing blanks are no edit; real changes come back normalised.
    alice.answer("c1", "submitted", decision="accept", **{EDITED: ITEMS[0].response + "\r\n  "})
    alice.answer("c2", "submitted", decision="accept", **{EDITED: "Brew oolong\r\nat 90 to 95 degrees. \r\n"})
    alice.answer("c3", "draft", decision="reject")
    first = answers_pull(target)
    bob.answer("c1", "discarded")
    bob.answer("c2", "submitted", decision="reject", reasons=["factual", "tone"], note="Too hot.")

    answers = answers_pull(target)

    def stamp(username: str, record_id: str) -> str:
        return next(a.updated_at for a in answers if (a.username, a.record_id) == (username, record_id))

    assert answers == [
        Answer("c1", "alice", alice.id, "submitted", "accept", None, [], "", stamp("alice", "c1")),
        Answer("c1", "bob", bob.id, "discarded", None, None, [], "", stamp("bob", "c1")),
        Answer(
            "c2",
            "alice",
            alice.id,
            "submitted",
            "accept",
            "Brew oolong\nat 90 to 95 degrees.",
            [],
            "",
            stamp("alice", "c2"),
        ),
        Answer(
            "c2",
            "bob",
            bob.id,
            "submitted",
            "reject",
            None,
            ["factual", "tone"],
            "Too hot.",
            stamp("bob", "c2"),
        ),
    ]
    assert all(datetime.fromisoformat(a.updated_at).utcoffset() is not None for a in answers)
    assert answers_pull(target) == answers
    records_push(target, SPEC, ITEMS)  # pushing again leaves the answers alone
    assert answers_pull(target) == answers

    latest_first = max(a.updated_at for a in first)
    assert [(a.record_id, a.username) for a in answers_pull(target, since=latest_first)] == [
        ("c1", "bob"),
        ("c2", "bob"),
    ]
    assert answers_pull(target, since=max(a.updated_at for a in answers)) == []
    assert answers_pull(target, since="2000-01-01T00:00:00") == answers


def test_a_missing_dataset_is_an_error_naming_it(argilla_server):
    target = _target(argilla_server, "never-made")
    dataset_ensure(_target(argilla_server, "made"), SPEC)  # the workspace exists

    with pytest.raises(ArgillaError, match="no published dataset 'never-made' in workspace 'bridge'"):
        answers_pull(target)


def test_an_unreachable_server_fails_fast_in_one_line():
    url = f"http://127.0.0.1:{_free_port()}"
    target = Target(url=url, api_key="any", workspace=WORKSPACE, dataset="x", timeout_s=2)

    for call in (lambda: health(target), lambda: dataset_ensure(target, SPEC), lambda: answers_pull(target)):
        started = time.monotonic()
        with pytest.raises(ArgillaError, match="cannot connect") as caught:
            call()
        assert time.monotonic() - started < 5
        assert str(caught.value).startswith(f"Argilla at {url}: ")
        assert "\n" not in str(caught.value)
        assert (caught.value.status_code, caught.value.transient) == (None, True)


def test_a_wrong_api_key_is_refused(argilla_server):
    health(_target(argilla_server, "any"))
    target = _target(argilla_server, "any", api_key="not-a-key")

    for call in (lambda: health(target), lambda: records_push(target, SPEC, ITEMS)):
        with pytest.raises(ArgillaError, match="HTTP 401") as caught:
            call()
        assert str(caught.value).startswith(f"Argilla at {argilla_server['url']}: ")
        assert (caught.value.status_code, caught.value.transient) == (401, False)
