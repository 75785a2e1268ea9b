"""DRF endpoint: match one customer against the golden records without changing anything."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from mdm.management.commands.import_records import customer_from_row
from mdm.matching.matcher import find_matches, profile_and_keys
from mdm.models import Customer, Entity, MatchSettings
from mdm.records import customer_attributes


class CanViewGoldenCustomers(BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.has_perm("mdm.view_customer"))


class CustomerQuerySerializer(serializers.Serializer):
    """The canonical customer CSV columns, all optional (source ids are not needed)."""

    company_name = serializers.CharField(required=False, allow_blank=True, default="")
    first_name = serializers.CharField(required=False, allow_blank=True, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, default="")
    email = serializers.CharField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(required=False, allow_blank=True, default="")
    address_line1 = serializers.CharField(required=False, allow_blank=True, default="")
    address_line2 = serializers.CharField(required=False, allow_blank=True, default="")
    city = serializers.CharField(required=False, allow_blank=True, default="")
    region = serializers.CharField(required=False, allow_blank=True, default="")
    postcode = serializers.CharField(required=False, allow_blank=True, default="")
    country = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
    # The system the record would come from: the probabilities then take the prior an ingest
    # from it would (a namesake within a clean system is less likely the same person).
    source_system = serializers.CharField(required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)

    def validate(self, attrs):
        # An unknown name ("billing_line1") would otherwise be dropped and match on less.
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown attribute(s): {', '.join(unknown)}. "
                f"Use the canonical CSV columns: {', '.join(self.fields)}."
            )
        if not any(value for key, value in attrs.items() if key not in ("limit", "source_system")):
            raise serializers.ValidationError("Give at least one attribute to match on.")
        return attrs


def _band(probability: float, settings: MatchSettings) -> str:
    if probability >= settings.auto_merge_threshold:
        return "auto_merge"
    if probability >= settings.review_threshold:
        return "review"
    return "no_match"


@api_view(["POST"])
@permission_classes([CanViewGoldenCustomers])
def match_customer(request):
    """POST a customer; get the candidate golden records with probabilities and explanations."""
    query = CustomerQuerySerializer(data=request.data)
    query.is_valid(raise_exception=True)
    data = dict(query.validated_data)
    limit, system = data.pop("limit"), data.pop("source_system").strip()
    canonical = customer_from_row({**data, "source_system": "query", "source_id": "query"})
    record_profile, keys = profile_and_keys(Entity.CUSTOMER, customer_attributes(canonical))
    settings = MatchSettings.for_entity(Entity.CUSTOMER)
    found = find_matches(Entity.CUSTOMER, record_profile, keys, settings=settings, system=system)
    matches = found[:limit]
    goldens = Customer.objects.in_bulk([match.golden_id for match in matches])
    candidates = []
    for match in matches:
        golden = goldens.get(match.golden_id)
        candidates.append(
            {
                **match.as_dict(),
                "band": _band(match.probability, settings),
                "golden": {
                    name: value
                    for name, value in (golden.values() if golden else {}).items()
                    if name not in ("custom_attributes",)
                },
            }
        )
    return Response(
        {
            "candidates": candidates,
            "thresholds": {
                "auto_merge": settings.auto_merge_threshold,
                "review": settings.review_threshold,
            },
        }
    )
