"""Demand alerts for the DER: the checks, the daily digest and their configuration (alerts.yaml)."""
