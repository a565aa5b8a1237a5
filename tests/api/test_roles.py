"""The roles matrix of CONTRACT "HTTP API" for every endpoint under /api/v1: a missing,
wrong or dead token gets 401, a wrong role 403 (even where the object exists, so a
refusal never hides behind a 404), the right role 200. One line per endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from curation.campaigns.models import Candidate, CandidateStatus
from curation.exports.jobs import export_job_create
from curation.exports.services import export_create
from curation.review.assignments import candidate_lease_next
from curation.review.models import Assignment

READ = frozenset({"admin", "expert", "viewer"})
REVIEW = frozenset({"admin", "expert"})
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    # {export} is a real export; {job} an export job; {candidate} is in review and, for a
    # reviewer, leased to them.
    path: str
    roles: frozenset[str]
    body: dict | None = None
    ok: int = 200


ENDPOINTS = [
    pytest.param(Endpoint("GET", "/api/v1/campaigns", READ), id="campaigns"),
    pytest.param(Endpoint("GET", "/api/v1/campaigns/tea", READ), id="campaign"),
    pytest.param(Endpoint("GET", "/api/v1/campaigns/tea/candidates", READ), id="candidates"),
    pytest.param(Endpoint("POST", "/api/v1/campaigns/tea/next", REVIEW, {}), id="next"),
    pytest.param(
        Endpoint("POST", "/api/v1/candidates/{candidate}/review", REVIEW, {"decision": "accept"}), id="review"
    ),
    pytest.param(Endpoint("GET", "/api/v1/exports", READ), id="exports"),
    pytest.param(Endpoint("GET", "/api/v1/exports/{export}", READ), id="manifest"),
    pytest.param(Endpoint("GET", "/api/v1/exports/{export}/files/data.jsonl", READ), id="file"),
    pytest.param(
        Endpoint("POST", "/api/v1/exports/preview", ADMIN, {"campaigns": ["tea"], "sources": ["tea"]}),
        id="export-preview",
    ),
    pytest.param(
        Endpoint("POST", "/api/v1/exports", ADMIN, {"sources": ["tea"], "folder": "roles"}, ok=202),
        id="export-job-create",
    ),
    pytest.param(Endpoint("GET", "/api/v1/exports/jobs/{job}", READ), id="export-job"),
]


PERSONAS = [
    pytest.param("alice", "admin", id="admin"),
    pytest.param("bob", "expert", id="expert"),
    pytest.param("charlie", "viewer", id="viewer"),
]


class World:
    """The tea campaign with 4 candidates in review and, when a path needs one, an export on disk."""

    def __init__(self, campaign, out: Path) -> None:
        self.campaign = campaign
        self.out = out
        self._export_id: int | None = None

    @property
    def export_id(self) -> int:
        if self._export_id is None:
            export = export_create(
                campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.3, fmt="jsonl", out=self.out
            )
            self._export_id = export.pk
        return self._export_id

    def path(self, endpoint: Endpoint, user=None) -> str:
        if "{candidate}" in endpoint.path and user is not None and user.can_review():
            leased = candidate_lease_next(user=user, campaign=self.campaign)
            assert leased is not None
            return endpoint.path.format(candidate=leased.pk)
        if "{candidate}" in endpoint.path:
            waiting = Candidate.objects.filter(campaign=self.campaign, status=CandidateStatus.IN_REVIEW)
            return endpoint.path.format(candidate=waiting.order_by("id").first().pk)
        if "{export}" in endpoint.path:
            return endpoint.path.format(export=self.export_id)
        if "{job}" in endpoint.path:
            return endpoint.path.format(job=export_job_create(folder="roles-job", source_names=["tea"]).pk)
        return endpoint.path


@pytest.fixture
def world(tea_in_review, tmp_path: Path, settings) -> World:
    settings.EXPORT_DIR = tmp_path / "exports"  # where POST /exports writes
    return World(tea_in_review, tmp_path / "export")


def _call(api, endpoint: Endpoint, path: str, token: str | None):
    return api.call(endpoint.method, path, token, endpoint.body)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_request_without_a_token_gets_401(api, world, endpoint):
    status, body = _call(api, endpoint, world.path(endpoint), None)
    assert status == 401
    assert body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_made_up_token_gets_401(api, world, endpoint):
    status, body = _call(api, endpoint, world.path(endpoint), "asy_this-token-was-never-issued")
    assert status == 401
    assert body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_real_token_under_another_scheme_gets_401(client, world, alice, token, endpoint):
    response = getattr(client, endpoint.method.lower())(
        world.path(endpoint, alice), headers={"Authorization": f"Token {token(alice)}"}
    )
    assert response.status_code == 401


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_token_of_a_deactivated_user_gets_401(api, world, alice, token, endpoint):
    raw = token(alice)  # an admin, so the role would allow every endpoint
    path = world.path(endpoint, alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    status, body = _call(api, endpoint, path, raw)
    assert status == 401
    assert body["detail"]


@pytest.mark.parametrize("persona, role", PERSONAS)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_role_gets_what_the_contract_allows_and_403_otherwise(
    request, api, world, token, endpoint, persona, role
):
    user = request.getfixturevalue(persona)
    status, body = _call(api, endpoint, world.path(endpoint, user), token(user))
    if role in endpoint.roles:
        assert status == endpoint.ok, body
    else:
        assert status == 403, body
        assert role in body["detail"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/campaigns/no-such-campaign"),
        ("GET", "/api/v1/campaigns/no-such-campaign/candidates"),
        ("POST", "/api/v1/campaigns/no-such-campaign/next"),
    ],
)
def test_an_unknown_campaign_is_a_404_with_a_json_detail(api, world, bob, token, method, path):
    status, body = api.call(method, path, token(bob), {} if method == "POST" else None)
    assert status == 404
    assert body == {"detail": "no campaign 'no-such-campaign'"}


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/api/v1/candidates/999999/review", {"decision": "accept"}),
        ("GET", "/api/v1/exports/999999", None),
        ("GET", "/api/v1/exports/999999/files/data.jsonl", None),
        ("GET", "/api/v1/exports/{export}/files/no-such-file.jsonl", None),
    ],
)
def test_an_unknown_candidate_export_or_file_is_a_404_with_a_json_detail(
    api, world, bob, token, method, path, body
):
    if "{export}" in path:
        path = path.format(export=world.export_id)
    status, answer = api.call(method, path, token(bob), body)
    assert status == 404
    assert set(answer) == {"detail"}
    assert answer["detail"]


def test_a_viewer_may_not_lease_even_when_candidates_are_waiting(api, world, charlie, token):
    status, body = api.post("/api/v1/campaigns/tea/next", token(charlie))
    assert status == 403
    assert "viewer" in body["detail"]
    assert not Assignment.objects.exists()
