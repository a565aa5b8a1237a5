"""The Argilla test server answers the SDK as issue 10's bridge will use it: a workspace,
a published dataset, records logged with ids, an annotator's submitted and discarded
responses, and records queried back by response status and metadata."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

rg = pytest.importorskip("argilla", reason="the argilla extra is not installed (pip install -e '.[argilla]')")


def _by_status(dataset, status: str) -> dict[str, list]:
    query = rg.Query(filter=rg.Filter(("response.status", "==", status)))
    return {record.id: list(record.responses) for record in dataset.records(query=query)}


def test_sdk_round_trip_through_the_test_server(argilla_server):
    owner = rg.Argilla(api_url=argilla_server["url"], api_key=argilla_server["api_key"])
    workspace = rg.Workspace(name="assay", client=owner).create()
    expert = rg.User(username="expert", password="expert-pass-123", role="annotator", client=owner).create()
    workspace.add_user(expert)
    settings = rg.Settings(
        fields=[rg.TextField(name="response")],
        questions=[
            rg.LabelQuestion(name="verdict", labels=["accept", "reject"]),
            rg.TextQuestion(name="reasons", required=False),
        ],
        metadata=[rg.TermsMetadataProperty(name="topic")],
        distribution=rg.TaskDistribution(min_submitted=1),
    )
    dataset = rg.Dataset(name="tea", workspace=workspace, settings=settings, client=owner).create()
    dataset.records.log(
        [
            {"id": "c1", "response": "Green tea is steamed or pan-fired.", "topic": "kinds"},
            {"id": "c2", "response": "Tea tea tea tea.", "topic": "kinds"},
            {"id": "c3", "response": "Brew oolong at 90 degrees.", "topic": "brewing"},
        ]
    )
    records = {record.id: record for record in dataset.records}
    assert sorted(records) == ["c1", "c2", "c3"]

    # The SDK has no annotator-side record listing and hides other users' API keys: the owner
    # reads the key, the annotator posts responses to the records' server ids.
    key = owner.http_client.get(f"/api/v1/users/{expert.id}").json()["api_key"]
    as_expert = rg.Argilla(api_url=argilla_server["url"], api_key=key)
    answers = {"c1": ("accept", "submitted", None), "c2": ("reject", "discarded", "repetition")}
    for record_id, (verdict, status, reasons) in answers.items():
        record = records[record_id]
        record.responses.add(rg.Response("verdict", verdict, user_id=expert.id, status=status))
        if reasons:
            record.responses.add(rg.Response("reasons", reasons, user_id=expert.id, status=status))
        as_expert.api.records.create_record_responses(record.api_model())

    submitted = _by_status(dataset, "submitted")
    assert list(submitted) == ["c1"]
    assert [(r.question_name, r.value, r.user_id) for r in submitted["c1"]] == [
        ("verdict", "accept", expert.id)
    ]
    discarded = _by_status(dataset, "discarded")
    assert list(discarded) == ["c2"]
    assert {(r.question_name, r.value, r.status.value) for r in discarded["c2"]} == {
        ("verdict", "reject", "discarded"),
        ("reasons", "repetition", "discarded"),
    }
    assert list(_by_status(dataset, "pending")) == ["c3"]

    # min_submitted=1: the submitted record is completed; a discarded one stays pending.
    completed = rg.Query(filter=rg.Filter(("status", "==", "completed")))
    assert [record.id for record in dataset.records(query=completed)] == ["c1"]
    brewing = rg.Query(filter=rg.Filter(("metadata.topic", "==", "brewing")))
    assert [record.id for record in dataset.records(query=brewing)] == ["c3"]
    progress = dataset.progress(with_users_distribution=True)
    assert (progress["total"], progress["completed"], progress["pending"]) == (3, 1, 2)
