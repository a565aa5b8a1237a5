from __future__ import annotations

from curation.campaigns.management.control import ControlCommand
from curation.campaigns.services import campaign_resume


class Command(ControlCommand):
    help = "Resume a paused campaign: generation continues where it stopped."
    service = campaign_resume
    done = "resumed {slug}"
    already = "{slug} was already running"
