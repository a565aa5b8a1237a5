from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "curation.campaigns"
    label = "campaigns"
