from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "curation.sources"
    label = "sources"
