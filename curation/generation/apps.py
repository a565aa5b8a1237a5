from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "curation.generation"
    label = "generation"
