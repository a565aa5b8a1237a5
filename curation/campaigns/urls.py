from django.urls import path

from curation.campaigns import views
from curation.metrics import views as metrics
from curation.scoring import views as scoring

urlpatterns = [
    path("<slug:slug>/", views.campaign_detail, name="campaign_detail"),
    path("<slug:slug>/live", views.campaign_live, name="campaign_live"),
    path("<slug:slug>/dashboard", views.campaign_dashboard, name="campaign_dashboard"),
    path("<slug:slug>/diversity", metrics.diversity_panel, name="campaign_diversity"),
    path("<slug:slug>/control", views.campaign_control, name="campaign_control"),
    path("<slug:slug>/adjudication/", views.adjudication_list, name="adjudication_list"),
    path("<slug:slug>/adjudication/<int:candidate_id>/", views.adjudicate, name="adjudicate"),
    path(
        "<slug:slug>/candidates/<int:candidate_id>/reinstate", scoring.reinstate, name="candidate_reinstate"
    ),
]
