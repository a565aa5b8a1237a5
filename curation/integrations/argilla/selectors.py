"""What the campaign page shows of its Argilla bridge."""

from __future__ import annotations

from typing import Any

from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign
from curation.integrations.argilla.models import ArgillaRecord, ArgillaSync, RecordState


def argilla_status(*, campaign: Campaign) -> dict[str, Any] | None:
    """None when the campaign has no `argilla` section; else its dataset, the last sync's
    time and error, the counts, and the last refused answers."""
    config = stored_config(campaign.config).argilla
    if config is None:
        return None
    sync = ArgillaSync.objects.filter(campaign=campaign).first()
    records = ArgillaRecord.objects.filter(candidate__campaign=campaign)
    return {
        "url": config.url,
        "workspace": config.workspace,
        "dataset": config.dataset,
        "last_ok_at": sync.last_ok_at if sync else None,
        "pushed": sync.pushed if sync else 0,
        "pulled": sync.pulled if sync else 0,
        "leased": records.filter(state=RecordState.LEASED).count(),
        "error": sync.error if sync else "",
        "error_at": sync.error_at if sync else None,
        "refused": list(records.exclude(error="").order_by("-pk").values_list("error", flat=True)[:5]),
    }
