from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "curation.scoring"
    label = "scoring"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.scoring.services import scoring_sweep

        sweeper.register("scoring", scoring_sweep)
