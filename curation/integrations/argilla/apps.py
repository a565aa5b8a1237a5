from django.apps import AppConfig


class ArgillaConfig(AppConfig):
    name = "curation.integrations.argilla"
    label = "argilla"
    verbose_name = "Argilla bridge"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.integrations.argilla.services import argilla_sweep

        sweeper.register("argilla", argilla_sweep)
