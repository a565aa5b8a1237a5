from __future__ import annotations

from django.db.models import Count, QuerySet

from curation.core.errors import NotFound
from curation.sources.models import Source


def source_get(*, name: str) -> Source:
    try:
        return Source.objects.get(name=name)
    except Source.DoesNotExist:
        raise NotFound(f"no source named {name!r}") from None


def source_list() -> QuerySet[Source]:
    return Source.objects.annotate(n_examples=Count("examples")).order_by("name")
