"""Blocking-key look-ups: the key counts every match reads come from the postings index alone."""

import pytest
from django.db import connection

from mdm.matching.blocking import key_count_query

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("upto_record", [None, 10])
def test_key_counts_are_read_from_the_postings_index_alone(upto_record):
    query = key_count_query("customer", ["tf.first:john", "la:SNAT:leeds"], upto_record)
    if connection.vendor == "postgresql":
        # As the planner chooses on a large table: no sequential or bitmap scan. Counting a
        # column the index lacks (the row id) made it read a table row per posting.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        assert "Index Only Scan using mdm_blocking_postings" in query.explain()
    else:
        assert "COVERING INDEX mdm_blocking_postings" in query.explain()


def test_only_the_counts_of_common_keys_are_kept_and_only_for_a_minute(monkeypatch):
    from mdm.matching import blocking
    from mdm.models import BlockingKey, SourceRecord

    monkeypatch.setattr(blocking, "MAX_POSTINGS", 2)  # "common" from three records on
    records = [
        SourceRecord.objects.create(entity="customer", system="s", external_id=str(number))
        for number in range(4)
    ]

    def hold(key, holders):
        BlockingKey.objects.bulk_create(
            BlockingKey(entity="customer", key=key, source_record=record) for record in holders
        )

    hold("tf.first:john", records[:3])
    hold("pc:ls1", records[:1])
    assert blocking.key_counts("customer", ["tf.first:john", "pc:ls1"]) == {
        "tf.first:john": 3,
        "pc:ls1": 1,
    }
    hold("tf.first:john", records[3:])
    hold("pc:ls1", records[1:2])
    # Within the minute the common key keeps its count; the selective one is counted again.
    assert blocking.key_counts("customer", ["tf.first:john", "pc:ls1"]) == {
        "tf.first:john": 3,
        "pc:ls1": 2,
    }
    assert blocking.key_counts("customer", ["tf.first:john"], upto_record=records[-1].pk) == {
        "tf.first:john": 4  # the batch import's counts are never kept
    }
    for key, (kept_at, count) in list(blocking._large_counts.items()):
        blocking._large_counts[key] = (kept_at - 61, count)  # a minute and a second later
    assert blocking.key_counts("customer", ["tf.first:john"]) == {"tf.first:john": 4}
