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
