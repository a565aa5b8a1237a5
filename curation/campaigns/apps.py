from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "curation.campaigns"
    label = "campaigns"

    def ready(self) -> None:
        from curation.campaigns.status import campaigns_settle
        from curation.core import sweeper

        sweeper.register("settle", campaigns_settle)
