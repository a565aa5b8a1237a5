from django.urls import path

from curation.integrations.argilla import views

urlpatterns = [
    path("webhook", views.argilla_webhook, name="argilla_webhook"),
]
