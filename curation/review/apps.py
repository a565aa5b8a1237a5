from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "curation.review"
    label = "review"

    def ready(self) -> None:
        from curation.core import sweeper
        from curation.review.assignments import assignments_reap

        sweeper.register("leases", assignments_reap)
