from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "curation.core"
    label = "core"
