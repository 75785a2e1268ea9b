"""Steward decisions feed the weights: the reestimate_weights command and its task function."""

import io
import json
import uuid

import pytest
from django.core.management import call_command

from mdm.ingest import ingest_customer
from mdm.merge import decide_review
from mdm.models import DecisionKind, MatchSettings, PairDecision, ReviewTask
from mdm.tasks import reestimate_weights
from tests.mdm.factories import person

pytestmark = pytest.mark.django_db


def _decide(kind: str, first_name_level: str, times: int) -> None:
    explanation = {
        "fields": [
            {"field": "first_name", "level": first_name_level, "weight": 1.0},
            {"field": "last_name", "level": "exact", "weight": 5.0},
            {"field": "email", "level": "missing", "weight": 0.0},
        ]
    }
    for _ in range(times):
        PairDecision.objects.create(
            entity="customer",
            left_id=uuid.uuid4(),
            right_id=uuid.uuid4(),
            decision=kind,
            explanation=explanation,
        )


def test_same_decisions_raise_m_of_the_levels_they_show():
    _decide(DecisionKind.SAME, "initial", 30)
    without = reestimate_weights("customer", use_decisions=False)
    weights_without = MatchSettings.objects.get(entity="customer").weights
    with_decisions = reestimate_weights("customer")
    weights_with = MatchSettings.objects.get(entity="customer").weights
    initial = 4  # index of "initial" among the first-name levels
    assert weights_with["fields"]["first_name"]["m"][initial] > (
        weights_without["fields"]["first_name"]["m"][initial] + 0.1
    )
    assert without["decisions"] == {"same": 0, "not_same": 0}
    assert with_decisions["decisions"] == {"same": 30, "not_same": 0}


def test_not_the_same_decisions_raise_u_of_the_levels_they_show():
    _decide(DecisionKind.NOT_SAME, "nickname", 300)
    reestimate_weights("customer", use_decisions=False)
    before = MatchSettings.objects.get(entity="customer").weights["fields"]["first_name"]["u"][1]
    reestimate_weights("customer")
    after = MatchSettings.objects.get(entity="customer").weights["fields"]["first_name"]["u"][1]
    assert after > before


def test_a_review_decision_is_used_as_a_label():
    ingest_customer(person())
    ingest_customer(person(system="shop", external_id="7", first="Mary"))
    decide_review(ReviewTask.objects.get(), same=False)
    summary = reestimate_weights("customer")
    assert summary["decisions"] == {"same": 0, "not_same": 1}


def test_reestimate_weights_command_stores_the_weights_and_reports():
    ingest_customer(person())
    out = io.StringIO()
    call_command("reestimate_weights", "--entity", "customer", stdout=out)
    settings = MatchSettings.objects.get(entity="customer")
    assert settings.weights_estimated_at is not None
    assert "Re-estimated customer weights" in out.getvalue()


def test_task_result_is_json_for_django_q():
    json.dumps(reestimate_weights("product"))


def test_a_review_threshold_set_by_hand_is_kept_when_weights_are_re_estimated():
    MatchSettings.objects.create(
        entity="customer",
        auto_merge_threshold=0.95,
        review_threshold=0.42,
        calibrate_review_threshold=False,
    )
    reestimate_weights("customer")
    assert MatchSettings.objects.get(entity="customer").review_threshold == 0.42
