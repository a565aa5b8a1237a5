from django.urls import path

from curation.review import views

urlpatterns = [
    path("<slug:slug>/", views.review_next, name="review_next"),
    path("<slug:slug>/start/", views.review_start, name="review_start"),
    path("<slug:slug>/undo/", views.review_undo, name="review_undo"),
    path("<slug:slug>/release/", views.review_release, name="review_release"),
    path("<slug:slug>/<int:candidate_id>/renew/", views.review_renew, name="review_renew"),
    path("<slug:slug>/<int:candidate_id>/", views.review_submit, name="review_submit"),
]
