"""Golden records and their cross-references (built by the MDM issue)."""
