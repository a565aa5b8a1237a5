from __future__ import annotations

from curation.campaigns.management.control import ControlCommand
from curation.campaigns.services import campaign_cancel


class Command(ControlCommand):
    help = (
        "Cancel a campaign for good: batches not started never will be; "
        "what was generated is still scored and reviewable."
    )
    service = campaign_cancel
    done = "cancelled {slug}: batches running now finish and everything generated is scored"
    already = "{slug} was already cancelled"
