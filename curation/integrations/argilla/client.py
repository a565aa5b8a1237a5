"""The one module that talks to Argilla 2.8.0 (issue 10): plain Python values in and out.

Assay pushes candidates as records (record id == candidate id), Argilla users answer them,
Assay pulls the answers back; a webhook (`webhook_ensure`) tells Assay when to. Each dataset
has this shape:

    fields     prompt, response         text, markdown off
    questions  decision                 label: accept | reject (required)
               edited_response          text, pre-filled with the response (a suggestion)
               reasons                  multi-label: the campaign's reason codes (none: absent)
               note                     text
    metadata   critic_<name> (float) per critic, <key> (terms) per metadata term
    vectors    embedding, when the candidates carry vectors

The edit is a question because Argilla cannot edit a record's fields (argilla#5662), and it is
named `edited_response` because a question may not share a field's name.

Every call opens its own SDK client with the key in `Target` (the owner's: annotators get 403
listing records) and no retries: the caller's task retries `ArgillaError.transient` failures
with backoff, where the SDK's own retries would hide a dead server for seconds. The SDK is
imported on first use, so this module imports without the `argilla` extra.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import httpx

DECISIONS = ("accept", "reject")
EDITED = "edited_response"
_FIELDS = ("prompt", "response")
_AGENT = "assay"
_PAGE = 1000  # the server's largest page of records
_UPSERT_BATCH = 500  # the server's largest bulk upsert
_ID_BATCH = 100  # the server deletes at most 100 records per call
_EXCERPT = 300  # characters of a server's error detail kept in messages
# What Argilla's webhook tells Assay: an answer was given, changed or deleted.
WEBHOOK_EVENTS = ("response.created", "response.updated", "response.deleted")
_WEBHOOK_DESCRIPTION = "Assay: queue a sync of the campaign whose dataset was answered"

# The SDK logs every request at INFO; its warnings and errors still come through.
logging.getLogger("argilla.sdk").setLevel(logging.WARNING)


class ArgillaError(Exception):
    """Argilla unreachable or answering an error, or the extra missing. str() is one line naming
    the URL and what failed, with the status code and the server's detail where there is one.
    `status_code` is the HTTP status (None when nothing answered); `transient` says whether a
    retry may help (no connection, a timeout, 408, 429 or 5xx)."""

    def __init__(self, message: str, *, status_code: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.transient = transient


@dataclass(frozen=True)
class Target:
    """Where a campaign's dataset lives. `timeout_s` bounds each HTTP request."""

    url: str
    api_key: str = field(repr=False)  # never in logs or task reprs
    workspace: str
    dataset: str
    timeout_s: float = 30.0


@dataclass(frozen=True)
class DatasetSpec:
    guidelines: str
    reasons: dict[str, str]  # code -> meaning, in order; the meaning is the label's text in the UI
    critics: list[str]
    vector_dims: int | None
    min_submitted: int
    metadata_terms: list[str]


@dataclass(frozen=True)
class Item:
    id: str
    prompt: str
    response: str
    critics: dict[str, float | None]
    metadata: dict[str, str]
    vector: list[float] | None


@dataclass(frozen=True)
class Answer:
    record_id: str
    username: str
    user_id: str
    status: str  # "submitted" | "discarded"
    decision: str | None
    edited_response: str | None  # normalised (LF, no trailing whitespace); None when unchanged
    reasons: list[str]
    note: str
    updated_at: str  # ISO 8601, UTC


# ---------------------------------------------------------------------------------------------
# Public functions


def dataset_ensure(target: Target, spec: DatasetSpec) -> str:
    """Create the workspace and the published dataset if missing; return the dataset id.

    An existing dataset is kept: its guidelines and distribution stay as they are (an admin may
    have edited them in Argilla), metadata properties for new critics or terms are added, and a
    difference in fields, questions, reason codes or vector size raises ArgillaError. Safe to
    rerun."""
    rg = _sdk()
    if len(spec.reasons) == 1:
        raise ArgillaError(
            f"Argilla at {target.url}: ensure dataset {target.dataset!r} failed: a multi-label question "
            f"needs at least two labels; give two reason codes or none"
        )
    client = _connect(target)
    with _failing(target, f"ensure dataset {target.dataset!r} in workspace {target.workspace!r}"):
        workspace_id = _workspace_id(rg, client, target, create=True)
        model = client.api.datasets.get_by_name_and_workspace_id(target.dataset, workspace_id)
        if model is not None and model.status != "ready":
            # A create that died before publishing leaves a draft; a draft cannot hold records.
            client.api.datasets.delete(model.id)
            model = None
        if model is None:
            dataset = rg.Dataset(
                name=target.dataset,
                workspace=workspace_id,
                settings=_settings(rg, client, spec),
                client=client,
            )
            return str(dataset.create().id)
        dataset = rg.Dataset.from_model(model, client=client).get()
        _check_settings(rg, client, target, dataset.settings, spec)
        _add_missing_metadata(rg, client, dataset, spec)
        return str(dataset.id)


def records_push(target: Target, spec: DatasetSpec, items: list[Item]) -> int:
    """Upsert one record per item, by id; return how many were sent. Pushing the same items
    again changes nothing, and never touches the responses already given."""
    unique = list({item.id: item for item in items}.values())  # one id twice in a batch would fail
    if not unique:
        return 0
    rg = _sdk()
    client = _connect(target)
    with _failing(target, f"push records to dataset {target.dataset!r}"):
        dataset = rg.Dataset.from_model(_dataset_model(rg, client, target), client=client).get()
        # Record.api_model() resolves the suggestion's question id from the dataset's settings.
        models = [_record(rg, dataset, spec, item).api_model() for item in unique]
        for start in range(0, len(models), _UPSERT_BATCH):
            client.api.records.bulk_upsert(
                dataset_id=dataset.id, records=models[start : start + _UPSERT_BATCH]
            )
    return len(models)


def records_remove(target: Target, ids: list[str]) -> int:
    """Delete the records with these ids; ids not in the dataset are skipped. Returns how many
    were deleted."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return 0
    rg = _sdk()
    client = _connect(target)
    deleted = 0
    with _failing(target, f"remove records from dataset {target.dataset!r}"):
        dataset_id = _dataset_model(rg, client, target).id
        for start in range(0, len(wanted), _ID_BATCH):
            chunk = wanted[start : start + _ID_BATCH]
            # Deleting takes Argilla's own record ids: find them by ours ("id" is external_id).
            query = rg.Query(filter=rg.Filter(("id", "in", chunk)))
            found, _total = client.api.records.search(
                dataset_id=dataset_id,
                query=query.api_model(),
                limit=len(chunk),
                with_suggestions=False,
                with_responses=False,
            )
            records = [record for record, _score in found]
            if records:
                client.api.records.delete_many(dataset_id=dataset_id, records=records)
                deleted += len(records)
    return deleted


def answers_pull(target: Target, *, since: str | None = None) -> list[Answer]:
    """Every submitted and discarded response, one Answer per (record, user), sorted by
    (record_id, username). Drafts are left out. `since` (ISO 8601; naive means UTC) keeps the
    responses updated after it. Read-only, safe to rerun."""
    after = _utc(since) if since else None
    rg = _sdk()
    client = _connect(target)
    with _failing(target, f"pull answers of dataset {target.dataset!r}"):
        dataset_id = _dataset_model(rg, client, target).id
        usernames = {user["id"]: user["username"] for user in _get(client, "/api/v1/users")["items"]}
        answers = []
        # The raw listing, not the SDK's records: the SDK drops the responses' timestamps, and a
        # discarded response without values (argilla#5757's "skip") from its Response objects.
        for record in _records_with_responses(client, dataset_id):
            for response in record.get("responses") or []:
                answer = _answer(record, response, usernames)
                if answer and (after is None or _utc(answer.updated_at) > after):
                    answers.append(answer)
    return sorted(answers, key=lambda answer: (answer.record_id, answer.username))


def users_ensure(target: Target, username: str, password: str, role: str = "annotator") -> str:
    """Create the Argilla user if missing (an existing user keeps its password and role), make
    them a member of the workspace (created if missing), and return their id."""
    if role not in ("annotator", "admin", "owner"):
        raise ValueError(f"an Argilla role is annotator, admin or owner, not {role!r}")
    rg = _sdk()
    client = _connect(target)
    with _failing(target, f"ensure user {username!r}"):
        workspace_id = _workspace_id(rg, client, target, create=True)
        user_id = next((user.id for user in client.api.users.list() if user.username == username), None)
        if user_id is None:
            user = rg.User(
                username=username, first_name=username, password=password, role=role, client=client
            )
            user_id = user.create().id
        if user_id not in {member.id for member in client.api.users.list_by_workspace_id(workspace_id)}:
            client.api.users.add_to_workspace(workspace_id, user_id)
    return str(user_id)


def webhook_ensure(target: Target, url: str) -> str:
    """Make sure the Argilla server posts its response events to `url` and return that
    webhook's signing secret (Standard Webhooks, base64). Argilla's webhooks are server-wide
    and only an owner may list or create them: the one with this URL is kept (re-enabled, and
    given the response events if it lacks them; any other with this URL deleted), else one is
    created. Safe to rerun."""
    wanted = url.rstrip("/")
    headers = {"X-Argilla-Api-Key": target.api_key}
    with (
        httpx.Client(base_url=target.url, headers=headers, timeout=target.timeout_s) as http,
        _failing(target, f"ensure the webhook to {url}"),
    ):
        hooks = http.get("/api/v1/webhooks").raise_for_status().json()["items"]
        mine = sorted(
            (h for h in hooks if str(h["url"]).rstrip("/") == wanted), key=lambda h: h["inserted_at"]
        )
        for extra in mine[1:]:  # two syncs that created one each at once: one secret is kept
            http.delete(f"/api/v1/webhooks/{extra['id']}").raise_for_status()
        hook = mine[0] if mine else None
        if hook is None:
            body = {"url": url, "events": list(WEBHOOK_EVENTS), "description": _WEBHOOK_DESCRIPTION}
            hook = http.post("/api/v1/webhooks", json=body).raise_for_status().json()
        elif not hook["enabled"] or not set(WEBHOOK_EVENTS) <= set(hook["events"]):
            events = [*hook["events"], *(e for e in WEBHOOK_EVENTS if e not in hook["events"])]
            change = {"enabled": True, "events": events}
            hook = http.patch(f"/api/v1/webhooks/{hook['id']}", json=change).raise_for_status().json()
    return str(hook["secret"])


def health(target: Target) -> None:
    """Raise ArgillaError unless the server answers and the key is valid."""
    headers = {"X-Argilla-Api-Key": target.api_key}
    with httpx.Client(base_url=target.url, headers=headers, timeout=target.timeout_s) as http:
        with _failing(target, "status check"):
            http.get("/api/v1/status").raise_for_status()
        with _failing(target, "API key check"):
            response = http.get("/api/v1/me").raise_for_status()
        try:
            response.json()["username"]
        except (ValueError, KeyError, TypeError) as exc:
            # Argilla's UI answers 200 to any path, so a wrong base URL gets here.
            raise ArgillaError(f"Argilla at {target.url}: API key check failed: not Argilla's API") from exc


# ---------------------------------------------------------------------------------------------
# Connection and errors


def _sdk() -> ModuleType:
    try:
        import argilla
    except ImportError as exc:
        raise ArgillaError("the argilla extra is not installed: pip install -e '.[argilla]'") from exc
    return argilla


def _connect(target: Target) -> Any:
    """An SDK client; constructing it checks the key (GET /api/v1/me)."""
    rg = _sdk()
    with _failing(target, "log in"):
        try:
            return rg.Argilla(api_url=target.url, api_key=target.api_key, timeout=target.timeout_s, retries=0)
        except ValueError as exc:  # JSON or pydantic: something else answers at that URL
            problem = _one_line(str(exc))
            message = f"Argilla at {target.url}: log in failed: the answer is not Argilla's API ({problem})"
            raise ArgillaError(message) from exc


@contextmanager
def _failing(target: Target, what: str) -> Iterator[None]:
    """Re-raise httpx and SDK errors as one ArgillaError line; anything else (a bug) as is."""
    try:
        yield
    except ArgillaError:
        raise
    except Exception as exc:
        problem = _problem(exc, target)
        if problem is None:
            raise
        text, status_code, transient = problem
        message = f"Argilla at {target.url}: {what} failed: {text}"
        raise ArgillaError(message, status_code=status_code, transient=transient) from exc


def _problem(exc: Exception, target: Target) -> tuple[str, int | None, bool] | None:
    is_sdk = type(exc).__module__.startswith("argilla.")
    if not (is_sdk or isinstance(exc, httpx.HTTPError)):
        return None
    # The SDK raises its own errors from (or while handling) the httpx ones: find the cause.
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        if isinstance(cause, httpx.HTTPStatusError):
            return _http_problem(cause.response)
        if isinstance(cause, httpx.TimeoutException):
            return f"no answer within {target.timeout_s:g}s", None, True
        if isinstance(cause, httpx.TransportError):
            return f"cannot connect ({_one_line(str(cause) or type(cause).__name__)})", None, True
        cause = cause.__cause__ or cause.__context__
    detail = exc.args[0] if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
    return _one_line(detail), None, False


def _http_problem(response: httpx.Response) -> tuple[str, int, bool]:
    try:
        body = response.json()
    except ValueError:
        body = response.text
    detail = _detail(body.get("detail", body) if isinstance(body, dict) else body)
    code = response.status_code
    text = f"HTTP {code} {response.reason_phrase}".rstrip()
    if detail:
        text += f": {_one_line(detail)}"
    return text, code, code >= 500 or code in (408, 429)


def _detail(detail: Any) -> str:
    """The readable part of Argilla's error body: {"code": ..., "params": {"detail": ...}} or
    {"params": {"errors": [{"loc": [...], "msg": ...}]}} (pydantic's)."""
    params = detail.get("params") if isinstance(detail, dict) else None
    if isinstance(params, dict) and isinstance(params.get("detail"), str):
        return params["detail"]
    if isinstance(params, dict) and isinstance(params.get("errors"), list):
        return "; ".join(
            f"{'.'.join(str(part) for part in error.get('loc', [])[1:])}: {error.get('msg')}"
            for error in params["errors"]
            if isinstance(error, dict)
        )
    return detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 1] + "…"


def _get(client: Any, path: str, **params: Any) -> Any:
    response = client.http_client.get(path, params=params or None)
    response.raise_for_status()
    return response.json()


# ---------------------------------------------------------------------------------------------
# Workspaces and datasets


def _workspace_id(rg: ModuleType, client: Any, target: Target, *, create: bool = False) -> Any:
    model = client.api.workspaces.get_by_name(target.workspace)
    if model is not None:
        return model.id
    if not create:
        raise ArgillaError(f"Argilla at {target.url}: no workspace {target.workspace!r} (run dataset_ensure)")
    try:
        return rg.Workspace(name=target.workspace, client=client).create().id
    except Exception as exc:
        if getattr(exc, "status_code", None) != 409:
            raise
        return client.api.workspaces.get_by_name(target.workspace).id  # created meanwhile


def _dataset_model(rg: ModuleType, client: Any, target: Target) -> Any:
    model = client.api.datasets.get_by_name_and_workspace_id(
        target.dataset, _workspace_id(rg, client, target)
    )
    if model is None or model.status != "ready":
        raise ArgillaError(
            f"Argilla at {target.url}: no published dataset {target.dataset!r} "
            f"in workspace {target.workspace!r} (run dataset_ensure)"
        )
    return model


def _settings(rg: ModuleType, client: Any, spec: DatasetSpec) -> Any:
    return rg.Settings(
        guidelines=spec.guidelines or None,  # the server refuses empty guidelines
        fields=[
            rg.TextField(name="prompt", title="Prompt", required=False, client=client),
            rg.TextField(name="response", title="Response", client=client),
        ],
        questions=_questions(rg, client, spec),
        metadata=_metadata(rg, client, spec),
        vectors=(
            [rg.VectorField(name="embedding", dimensions=spec.vector_dims, _client=client)]
            if spec.vector_dims
            else []
        ),
        distribution=rg.TaskDistribution(min_submitted=spec.min_submitted),
    )


def _questions(rg: ModuleType, client: Any, spec: DatasetSpec) -> list[Any]:
    questions = [
        rg.LabelQuestion(name="decision", title="Decision", labels=list(DECISIONS), client=client),
        rg.TextQuestion(
            name=EDITED,
            title="Response, edited",
            description="Correct the response here; leave it as it is to keep it.",
            required=False,
            client=client,
        ),
    ]
    if spec.reasons:
        # Argilla stores the code and shows the text; texts are limited to 500 characters.
        labels = {code: (meaning or code)[:500] for code, meaning in spec.reasons.items()}
        questions.append(
            rg.MultiLabelQuestion(
                name="reasons", title="Reasons", labels=labels, required=False, client=client
            )
        )
    questions.append(rg.TextQuestion(name="note", title="Note", required=False, client=client))
    return questions


def _metadata(rg: ModuleType, client: Any, spec: DatasetSpec) -> list[Any]:
    critics = [rg.FloatMetadataProperty(name=f"critic_{name}", client=client) for name in spec.critics]
    return critics + [rg.TermsMetadataProperty(name=term, client=client) for term in spec.metadata_terms]


def _check_settings(rg: ModuleType, client: Any, target: Target, settings: Any, spec: DatasetSpec) -> None:
    """Raise ArgillaError when the dataset cannot hold what this spec pushes and pulls."""
    problems = [f"no field {name!r}" for name in _FIELDS if settings.fields[name] is None]
    have = {q.name: (q.type, getattr(q, "labels", None)) for q in settings.questions}
    want = {q.name: (q.type, getattr(q, "labels", None)) for q in _questions(rg, client, spec)}
    for name in [*want, *(n for n in ("reasons",) if n not in want)]:
        if name not in have:
            problems.append(f"no question {name!r}")
        elif name not in want:
            problems.append(f"a question {name!r} the campaign does not have")
        elif have[name][0] != want[name][0]:
            problems.append(f"question {name!r} is {have[name][0]}, not {want[name][0]}")
        elif set(have[name][1] or ()) != set(want[name][1] or ()):
            missing = sorted(set(want[name][1] or ()) - set(have[name][1] or ()))
            extra = sorted(set(have[name][1] or ()) - set(want[name][1] or ()))
            problems.append(f"question {name!r} labels differ (missing {missing}, extra {extra})")
    if spec.vector_dims:
        vector = settings.vectors["embedding"]
        if vector is None or vector.dimensions != spec.vector_dims:
            size = vector.dimensions if vector is not None else None
            problems.append(f"vector 'embedding' has {size} dimensions, not {spec.vector_dims}")
    if problems:
        raise ArgillaError(
            f"Argilla at {target.url}: dataset {target.dataset!r} in workspace {target.workspace!r} "
            f"exists with other settings: {'; '.join(problems)}"
        )


def _add_missing_metadata(rg: ModuleType, client: Any, dataset: Any, spec: DatasetSpec) -> None:
    have = {prop.name for prop in dataset.settings.metadata}
    for prop in _metadata(rg, client, spec):
        if prop.name not in have:
            prop.dataset = dataset
            prop.create()


# ---------------------------------------------------------------------------------------------
# Records and answers


def _record(rg: ModuleType, dataset: Any, spec: DatasetSpec, item: Item) -> Any:
    metadata: dict[str, Any] = {}
    for name in spec.critics:
        score = item.critics.get(name)
        if score is not None and math.isfinite(score):  # JSON has no NaN
            metadata[f"critic_{name}"] = float(score)
    for term in spec.metadata_terms:
        if item.metadata.get(term) not in (None, ""):
            metadata[term] = str(item.metadata[term])
    fields = {"response": item.response}
    if item.prompt:
        fields["prompt"] = item.prompt
    # The edit box starts as the response itself, so an expert edits rather than retypes.
    suggestions = [rg.Suggestion(EDITED, item.response, agent=_AGENT, type="model")] if item.response else []
    return rg.Record(
        id=item.id,
        fields=fields,
        metadata=metadata,
        vectors={"embedding": list(item.vector)} if spec.vector_dims and item.vector else {},
        suggestions=suggestions,
        _dataset=dataset,
    )


def _records_with_responses(client: Any, dataset_id: Any) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = _get(
            client, f"/api/v1/datasets/{dataset_id}/records", include="responses", offset=offset, limit=_PAGE
        )
        yield from page["items"]
        offset += len(page["items"])
        if len(page["items"]) < _PAGE:
            return


def _answer(record: dict[str, Any], response: dict[str, Any], usernames: dict[str, str]) -> Answer | None:
    if response["status"] not in ("submitted", "discarded"):
        return None
    values = {name: (value or {}).get("value") for name, value in (response.get("values") or {}).items()}
    pushed = _normalised((record.get("fields") or {}).get("response") or "")
    edited = _normalised(values.get(EDITED) or "")
    return Answer(
        record_id=str(record["external_id"]),
        username=usernames.get(response["user_id"], ""),
        user_id=str(response["user_id"]),
        status=response["status"],
        decision=values.get("decision"),
        edited_response=edited if edited and edited != pushed else None,
        reasons=list(values.get("reasons") or []),
        note=values.get("note") or "",
        updated_at=_utc(response["updated_at"]).isoformat(),
    )


def _normalised(text: str) -> str:
    """Browsers send CRLF and trailing blanks; neither is an edit."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def _utc(text: str) -> datetime:
    """An ISO timestamp as an aware UTC datetime; the server sends naive UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
