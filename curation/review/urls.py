from django.urls import path

from curation.review import views

urlpatterns = [
    path("<slug:slug>/", views.review_next, name="review_next"),
    path("<slug:slug>/<int:candidate_id>/", views.review_submit, name="review_submit"),
]
