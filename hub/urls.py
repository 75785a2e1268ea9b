"""URL map of the hub."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from hub import views

admin.site.site_header = "Concord"
admin.site.site_title = "Concord admin"
admin.site.index_title = "Master data hub"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", include("mdm.urls")),
]
