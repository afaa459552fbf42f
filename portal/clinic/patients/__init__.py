"""The patient list and search (SPEC 5.2)."""
