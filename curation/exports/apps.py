from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "curation.exports"
    label = "exports"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.exports.jobs import export_jobs_sweep

        sweeper.register("exports", export_jobs_sweep)
