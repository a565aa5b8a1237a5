from django.urls import path

from curation.campaigns import views

urlpatterns = [
    path("<slug:slug>/", views.campaign_detail, name="campaign_detail"),
    path("<slug:slug>/live", views.campaign_live, name="campaign_live"),
    path("<slug:slug>/control", views.campaign_control, name="campaign_control"),
]
