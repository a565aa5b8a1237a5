from __future__ import annotations

from curation.campaigns.management.control import ControlCommand
from curation.campaigns.services import campaign_pause


class Command(ControlCommand):
    help = "Pause a running campaign: no new generation batch starts; running batches finish and are scored."
    service = campaign_pause
    done = "paused {slug}: batches running now finish; resume_campaign {slug} continues"
    already = "{slug} was already paused"
