"""Configurable field mappings: extra or custom fields of a system mapped to golden attributes.

(Placeholder until the field-mapping model lands: no mappings configured means nothing to do.)
"""


def apply_field_mappings(connection, entity: str, payload: dict, record) -> None:
    """Apply the connection's field mappings for `entity` to `record.custom_attributes`."""
    return None
