"""One patient's chart (SPEC 5.3) and the exports of their record (SPEC 5.5)."""
