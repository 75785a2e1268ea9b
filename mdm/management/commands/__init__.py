"""import_records, export_golden."""
