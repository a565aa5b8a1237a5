from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from curation.api import api

urlpatterns = [
    path("", include("curation.core.urls")),
    path("campaigns/", include("curation.campaigns.urls")),
    path("review/", include("curation.review.urls")),
    path("exports/", include("curation.exports.urls")),
    path("integrations/argilla/", include("curation.integrations.argilla.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
