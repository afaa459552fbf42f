"""Versioned questionnaire and consent definitions (data files) and the scoring beside them."""
