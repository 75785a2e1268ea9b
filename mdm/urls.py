"""URL patterns of the MDM API; the hub mounts them under /api/."""

from django.urls import path

from mdm import api

app_name = "mdm"

urlpatterns = [
    path("match/customer/", api.match_customer, name="match-customer"),
]
