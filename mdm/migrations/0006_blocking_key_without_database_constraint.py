"""Blocking keys: no foreign-key constraint on their record in PostgreSQL (see the model).

SQLite keeps the constraint: it costs nothing measurable there (a 100,000-record load took
62.1 s with it and 62.5 s without), and dropping it would rebuild the key table, 23 million rows
at 1,000,000 records, on upgrade. Only Django's view of the field changes there.
"""

import django.db.models.deletion
from django.db import migrations, models


def _constraints(schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "mdm_blockingkey")
    return [
        name
        for name, info in found.items()
        if info["foreign_key"] and info["columns"] == ["source_record_id"]
    ]


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for name in _constraints(schema_editor):
        schema_editor.execute(
            f"ALTER TABLE {quote('mdm_blockingkey')} DROP CONSTRAINT {quote(name)}"
        )


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql" or _constraints(schema_editor):
        return
    quote = schema_editor.quote_name
    schema_editor.execute(
        f"ALTER TABLE {quote('mdm_blockingkey')} ADD CONSTRAINT "
        f"{quote('mdm_blockingkey_source_record_id_fk')} FOREIGN KEY ({quote('source_record_id')}) "
        f"REFERENCES {quote('mdm_sourcerecord')} ({quote('id')}) DEFERRABLE INITIALLY DEFERRED"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("mdm", "0005_keep_households_apart"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="blockingkey",
                    name="source_record",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="blocking_keys",
                        to="mdm.sourcerecord",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_constraint, add_constraint)],
        ),
    ]
