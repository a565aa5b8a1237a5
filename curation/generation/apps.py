from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "curation.generation"
    label = "generation"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.generation.batches import batches_sweep

        sweeper.register("generation", batches_sweep)
