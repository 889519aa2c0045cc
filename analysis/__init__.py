"""Results: exports now; aggregates, reports and the open-answer coder as they land."""
