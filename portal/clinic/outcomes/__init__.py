"""The clinic's outcomes report (SPEC 5.4)."""
