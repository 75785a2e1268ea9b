"""The field-mapping preview runs a live sample record from the sandbox through the mappings."""

import pytest
from django.urls import reverse

from connectors.models import FieldMapping
from tests.conftest import connection_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fixture", ["kashflow_sandbox", "magento_sandbox", "salesforce_sandbox"])
def test_preview_shows_live_values_through_the_mappings(client, superuser, request, fixture):
    sandbox = request.getfixturevalue(fixture)
    connection = connection_for(sandbox)
    path = {"kashflow": "Code", "magento": "email", "salesforce": "Name"}[sandbox.system]
    FieldMapping.objects.create(
        connection=connection,
        entity="customer",
        source_path=path,
        target_attribute="shouted",
        transforms=[{"op": "case", "mode": "upper"}],
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:connectors_connection_preview_mappings", args=[connection.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Could not fetch a sample" not in html
    sample = next(row for row in page.context["sections"][0]["rows"])
    assert sample["raw"] and sample["value"] == str(sample["raw"]).upper()
    assert connection.get_secret("password") not in html
