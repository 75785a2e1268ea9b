"""Management commands of the MDM app."""
