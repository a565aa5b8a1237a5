from django.urls import path

from curation.exports import views

urlpatterns = [
    path("", views.export_index, name="export_index"),
    path("new", views.export_new, name="export_new"),
    path("jobs/<int:job_id>/", views.export_job, name="export_job"),
    path("jobs/<int:job_id>/live", views.export_job_live, name="export_job_live"),
    path("<int:export_id>/", views.export_detail, name="export_detail"),
    path("<int:export_id>/files/<path:name>", views.export_download, name="export_download"),
]
