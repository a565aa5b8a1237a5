"""Argilla annotators for the bridge's tests: real Argilla users answering records through
the REST API with their own keys, as the Argilla UI does."""

from __future__ import annotations

import httpx

from curation.integrations.argilla.client import Target, users_ensure


def owner(server):
    import argilla as rg

    return rg.Argilla(api_url=server["url"], api_key=server["api_key"])


def dataset_of(server, target: Target):
    return owner(server).datasets(target.dataset, workspace=target.workspace)


def record_ids(server, target: Target) -> list[str]:
    return sorted((record.id for record in dataset_of(server, target).records), key=int)


class Annotator:
    """An Argilla annotator (created in the workspace when missing) answering by record id."""

    def __init__(self, server, target: Target, username: str) -> None:
        self.server, self.target, self.username = server, target, username
        self.id = users_ensure(target, username, f"{username}-pass-123")
        key = owner(server).http_client.get(f"/api/v1/users/{self.id}").json()["api_key"]
        self.http = httpx.Client(base_url=server["url"], headers={"X-Argilla-Api-Key": key}, timeout=10)

    def answer(self, record_id: str | int, status: str, **values) -> None:
        server_ids = {r.id: r._server_id for r in dataset_of(self.server, self.target).records}
        body = {"status": status, "values": {k: {"value": v} for k, v in values.items()}}
        response = self.http.post(f"/api/v1/records/{server_ids[str(record_id)]}/responses", json=body)
        assert response.status_code == 201, response.text
