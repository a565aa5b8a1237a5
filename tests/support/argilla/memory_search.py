"""An in-memory search engine for the Argilla 2.8.0 test server (no Elasticsearch here).

Runs inside the server's own virtual environment (`.venv-argilla`), never in Assay's:
the launcher imports this module before the app, so `SearchEngine.register("memory")`
runs and `ARGILLA_SEARCH_ENGINE=memory` selects it. The server makes a new engine per
request, so the indexes live at module level: one dict of documents per dataset, shaped
like the Elasticsearch documents of `argilla_server.search_engine.commons` (fields,
metadata, status, responses as a list of {id, status, user_id, <question>: value},
suggestions by question). Filters, sorting, paging and the progress counts follow that
engine's semantics; vector (similarity) search is not implemented.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from argilla_server.enums import MetadataPropertyType, ResponseStatusFilter, SortOrder
from argilla_server.search_engine.base import (
    AndFilter,
    FloatMetadataMetrics,
    IntegerMetadataMetrics,
    MetadataFilterScope,
    RangeFilter,
    RecordFilterScope,
    ResponseFilterScope,
    SearchEngine,
    SearchResponseItem,
    SearchResponses,
    SuggestionFilterScope,
    TermsFilter,
    TermsMetrics,
    TextQuery,
)

# dataset id (str) -> record id (str) -> document
INDEXES: dict[str, dict[str, dict[str, Any]]] = {}


def _plain(value: Any) -> Any:
    """Enum members as their values (the documents hold what Elasticsearch would)."""
    return getattr(value, "value", value)


def _index(dataset_id: Any) -> dict[str, dict[str, Any]]:
    key = str(dataset_id)
    if key not in INDEXES:
        raise LookupError(f"memory search engine: no index for dataset {key} (is it published?)")
    return INDEXES[key]


def _response_document(response: Any) -> dict[str, Any]:
    return {
        "id": str(response.id),
        "status": _plain(response.status),
        "user_id": str(response.user_id),
        **{question: (value or {}).get("value") for question, value in (response.values or {}).items()},
    }


def _suggestion_documents(suggestions: Iterable[Any]) -> dict[str, dict[str, Any]]:
    return {
        suggestion.question.name: {
            "type": _plain(suggestion.type),
            "agent": suggestion.agent,
            "value": suggestion.value,
            "score": suggestion.score,
        }
        for suggestion in suggestions
    }


def _record_document(record: Any) -> dict[str, Any]:
    dataset = record.dataset
    fields = dict(record.fields or {})
    for field in dataset.fields:
        if field.is_image:
            fields.pop(field.name, None)
        elif field.is_custom and fields.get(field.name) is not None:
            fields[field.name] = str(fields[field.name])
    names = {prop.name for prop in dataset.metadata_properties}
    metadata = {k: v for k, v in (record.metadata_ or {}).items() if k in names and v is not None}
    return {
        "id": str(record.id),
        "external_id": record.external_id,
        "fields": fields,
        "status": _plain(record.status),
        "inserted_at": record.inserted_at,
        "updated_at": record.updated_at,
        "metadata": metadata,
        "responses": [_response_document(r) for r in record.responses or []],
        "suggestions": _suggestion_documents(record.suggestions or []),
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _terms_match(value: Any, values: list[str]) -> bool:
    # A keyword field holding a list (multi-label) matches when any element is among the terms.
    wanted = {str(v) for v in values}
    return any(v is not None and str(_plain(v)) in wanted for v in _as_list(value))


def _range_match(value: Any, ge: float | None, le: float | None) -> bool:
    for v in _as_list(value):
        if v is None:
            continue
        if (ge is None or v >= ge) and (le is None or v <= le):
            return True
    return False


def _user_responses(doc: dict[str, Any], user: Any) -> list[dict[str, Any]]:
    responses = doc["responses"]
    return [r for r in responses if r["user_id"] == str(user.id)] if user is not None else responses


def _scope_value(doc: dict[str, Any], scope: Any) -> Any:
    if isinstance(scope, MetadataFilterScope):
        return doc["metadata"].get(scope.metadata_property)
    if isinstance(scope, SuggestionFilterScope):
        return doc["suggestions"].get(scope.question, {}).get(scope.property)
    if isinstance(scope, RecordFilterScope):
        return doc.get(scope.property)
    raise ValueError(f"memory search engine: cannot process scope {scope}")


def _status_match(doc: dict[str, Any], flt: TermsFilter) -> bool:
    scope: ResponseFilterScope = flt.scope
    values = [str(v) for v in flt.values]
    responses = _user_responses(doc, scope.user)
    if ResponseStatusFilter.pending.value in values and not responses:
        return True  # pending: no response yet (by this user, when the scope names one)
    statuses = {v for v in values if v != ResponseStatusFilter.pending.value}
    return any(r["status"] in statuses for r in responses)


def _matches(doc: dict[str, Any], flt: Any) -> bool:
    if isinstance(flt, AndFilter):
        return all(_matches(doc, f) for f in flt.filters)
    scope = flt.scope
    if isinstance(scope, ResponseFilterScope):
        if scope.question:
            values = [r.get(scope.question) for r in _user_responses(doc, scope.user)]
            if isinstance(flt, TermsFilter):
                return any(_terms_match(v, flt.values) for v in values)
            return any(_range_match(v, flt.ge, flt.le) for v in values)
        if scope.property == "status" and isinstance(flt, TermsFilter):
            return _status_match(doc, flt)
        raise ValueError(f"memory search engine: cannot process filter scope {scope}")
    value = _scope_value(doc, scope)
    if isinstance(flt, TermsFilter):
        return _terms_match(value, flt.values)
    if isinstance(flt, RangeFilter):
        return _range_match(value, flt.ge, flt.le)
    raise ValueError(f"memory search engine: cannot process filter {flt}")


def _sort_value(doc: dict[str, Any], scope: Any) -> Any:
    if isinstance(scope, ResponseFilterScope):
        key = scope.question or scope.property
        values = [r.get(key) for r in _user_responses(doc, scope.user) if r.get(key) is not None]
        if not values:
            return None
        if all(isinstance(v, int | float) for v in values):
            return sum(values) / len(values)  # Elasticsearch's mode "avg"
        return min(str(v) for v in values)
    value = _scope_value(doc, scope)
    if isinstance(value, list):
        return min(value) if value else None
    return _plain(value)


def _sorted(docs: list[dict[str, Any]], sort: list[Any]) -> list[dict[str, Any]]:
    # Stable sorts from the last key to the first; missing values last either way (as in Elasticsearch).
    for order in reversed(sort):
        present = [d for d in docs if _sort_value(d, order.scope) is not None]
        missing = [d for d in docs if _sort_value(d, order.scope) is None]
        present.sort(key=lambda d: _sort_value(d, order.scope), reverse=_plain(order.order) == SortOrder.desc)
        docs = present + missing
    return docs


def _field_texts(doc: dict[str, Any], field: str | None) -> list[str]:
    values = [doc["fields"].get(field)] if field else list(doc["fields"].values())
    texts = []
    for value in values:
        if isinstance(value, list):  # chat: [{role, content}, ...]
            texts.extend(str(m.get("content", "")) for m in value if isinstance(m, dict))
        elif value is not None:
            texts.append(str(value))
    return texts


def _text_score(doc: dict[str, Any], query: TextQuery) -> float:
    """All the query's words in the field(s), case-insensitive (simple_query_string with AND); the
    score is the number of occurrences."""
    words = re.findall(r"\w+", query.q.lower())
    text = " ".join(_field_texts(doc, query.field)).lower()
    tokens = re.findall(r"\w+", text)
    if not words or any(w not in tokens for w in words):
        return 0.0
    return float(sum(tokens.count(w) for w in words))


@SearchEngine.register(engine_name="memory")
class MemorySearchEngine(SearchEngine):
    @classmethod
    async def new_instance(cls) -> MemorySearchEngine:
        return cls()

    async def close(self):
        pass

    async def ping(self) -> bool:
        return True

    async def info(self) -> dict:
        return {"version": {"number": "0", "distribution": "assay-memory"}, "indexes": len(INDEXES)}

    async def create_index(self, dataset):
        INDEXES.setdefault(str(dataset.id), {})

    async def delete_index(self, dataset):
        INDEXES.pop(str(dataset.id), None)

    async def configure_metadata_property(self, dataset, metadata_property):
        _index(dataset.id)  # documents keep all known metadata; nothing to map

    async def configure_index_vectors(self, vector_settings):
        pass  # vectors are not indexed: similarity_search says so

    async def index_records(self, dataset, records):
        index = _index(dataset.id)
        for record in records:
            index[str(record.id)] = _record_document(record)

    async def partial_record_update(self, record, **update):
        doc = _index(record.dataset_id).get(str(record.id))
        if doc is None:
            raise LookupError(f"memory search engine: record {record.id} is not indexed")
        doc.update({k: _plain(v) for k, v in update.items()})

    async def delete_records(self, dataset, records):
        index = _index(dataset.id)
        for record in records:
            index.pop(str(record.id), None)

    def _doc_for(self, record) -> dict[str, Any]:
        doc = _index(record.dataset_id).get(str(record.id))
        if doc is None:
            raise LookupError(f"memory search engine: record {record.id} is not indexed")
        return doc

    async def update_record_response(self, response):
        doc = self._doc_for(response.record)
        new = _response_document(response)
        doc["responses"] = [r for r in doc["responses"] if r["id"] != new["id"]] + [new]

    async def delete_record_response(self, response):
        doc = self._doc_for(response.record)
        doc["responses"] = [r for r in doc["responses"] if r["id"] != str(response.id)]

    async def update_record_suggestion(self, suggestion):
        doc = self._doc_for(suggestion.record)
        doc["suggestions"].update(_suggestion_documents([suggestion]))

    async def delete_record_suggestion(self, suggestion):
        doc = self._doc_for(suggestion.record)
        doc["suggestions"].pop(suggestion.question.name, None)

    async def get_dataset_progress(self, dataset) -> dict:
        if dataset.is_draft:
            return {}
        counts = Counter(doc["status"] for doc in _index(dataset.id).values())
        return {"total": sum(counts.values()), **counts}

    async def get_dataset_user_progress(self, dataset, user) -> dict:
        if dataset.is_draft:
            return {}
        counts = Counter(
            r["status"] for doc in _index(dataset.id).values() for r in _user_responses(doc, user)
        )
        return {"total": sum(counts.values()), **counts}

    async def search(
        self,
        dataset,
        query: TextQuery | str | None = None,
        filter=None,
        sort=None,
        offset: int = 0,
        limit: int = 100,
        user_id=None,
    ) -> SearchResponses:
        # `user_id` seeds a per-user random order in Elasticsearch; here the order is insertion order.
        docs = sorted(_index(dataset.id).values(), key=lambda d: (d["inserted_at"], d["id"]))
        scores = dict.fromkeys((d["id"] for d in docs), 1.0)
        if query is not None:
            text = TextQuery(q=query) if isinstance(query, str) else query
            scores = {d["id"]: _text_score(d, text) for d in docs}
            docs = [d for d in docs if scores[d["id"]] > 0]
            if not sort:
                docs.sort(key=lambda d: -scores[d["id"]])
        if filter is not None:
            docs = [d for d in docs if _matches(d, filter)]
        if sort:
            docs = _sorted(docs, sort)
        page = docs[offset : offset + limit]
        return SearchResponses(
            items=[SearchResponseItem(record_id=d["id"], score=scores[d["id"]]) for d in page],
            total=len(docs),
        )

    async def compute_metrics_for(self, metadata_property):
        name = metadata_property.name
        values = [
            v
            for doc in _index(metadata_property.dataset_id).values()
            for v in _as_list(doc["metadata"].get(name))
            if v is not None
        ]
        if metadata_property.type == MetadataPropertyType.terms:
            counts = Counter(str(v) for v in values)
            return TermsMetrics(
                total=len(values),
                values=[TermsMetrics.TermCount(term=t, count=c) for t, c in counts.most_common()],
            )
        metrics = IntegerMetadataMetrics if metadata_property.type == MetadataPropertyType.integer else None
        metrics = metrics or FloatMetadataMetrics
        return metrics(min=min(values, default=None), max=max(values, default=None))

    async def similarity_search(self, *args, **kwargs) -> SearchResponses:
        raise NotImplementedError(
            "the in-memory test search engine has no vector (similarity) search; "
            "run Argilla with Elasticsearch or OpenSearch for that"
        )
