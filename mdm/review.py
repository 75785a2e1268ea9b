"""What the steward's review screen shows: two golden records side by side, with evidence.

Plain functions that build template context from a review task; the admin view renders them
(`templates/admin/mdm/review_compare.html`) and posts decisions to `mdm.merge.decide_review`.
"""

from __future__ import annotations

from django.utils.text import capfirst

from mdm.models import ReviewStatus, ReviewTask, golden_model


def _shown(value) -> str:
    if value in ("", None, [], {}):
        return ""
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {item}" for key, item in value.items())
    return str(value)


def _source_rows(golden) -> list[dict]:
    rows = []
    for record in golden.source_records().order_by("system", "external_id"):
        attributes = record.attributes or {}
        values = [
            _shown(attributes.get(name))
            for name in ("company_name", "first_name", "last_name", "email", "phone",
                         "billing_line1", "billing_city", "billing_postcode", "sku", "name")
        ]  # fmt: skip
        rows.append(
            {
                "system": record.system,
                "external_id": record.external_id,
                "summary": ", ".join(value for value in values if value),
                "modified": record.source_modified_at,
            }
        )
    return rows


def comparison_context(task: ReviewTask) -> dict:
    """The context of the review screen: records, attribute rows, explanation, next task."""
    model = golden_model(task.entity)
    left = model.objects.filter(pk=task.left_id).first()
    right = model.objects.filter(pk=task.right_id).first()
    rows = []
    if left is not None and right is not None:
        left_values, right_values = left.values(), right.values()
        for name in model.ATTRIBUTES:
            shown = _shown(left_values[name]), _shown(right_values[name])
            if shown[0] or shown[1]:
                rows.append(
                    {
                        "name": name,
                        "label": capfirst(model._meta.get_field(name).verbose_name),
                        "left": shown[0],
                        "right": shown[1],
                        "same": shown[0] == shown[1],
                        "one_sided": not (shown[0] and shown[1]),  # missing is no difference
                    }
                )
    explanation = [
        {
            **item,
            "label": str(item.get("field", "")).replace("_", " ").capitalize(),
            "direction": _direction(item.get("weight")),
        }
        for item in (task.explanation or {}).get("fields", [])
    ]
    next_task = (
        ReviewTask.objects.filter(entity=task.entity, status=ReviewStatus.OPEN)
        .exclude(pk=task.pk)
        .order_by("-probability", "id")
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "task": task,
        "left": left,
        "right": right,
        "left_sources": _source_rows(left) if left is not None else [],
        "right_sources": _source_rows(right) if right is not None else [],
        "rows": rows,
        "explanation": explanation,
        "is_open": task.status == ReviewStatus.OPEN,
        "next_task": next_task,
    }


def _direction(weight) -> str:
    if not weight:
        return "neutral"
    return "for" if weight > 0 else "against"
