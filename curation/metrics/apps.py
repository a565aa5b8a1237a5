from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "curation.metrics"
    label = "metrics"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.metrics.services import diversity_sweep

        sweeper.register("diversity", diversity_sweep)
