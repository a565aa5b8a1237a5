from django.urls import path

from curation.campaigns import views

urlpatterns = [
    path("<slug:slug>/", views.campaign_detail, name="campaign_detail"),
]
