"""Feature sources; this import list is the table of contents of the registry."""
