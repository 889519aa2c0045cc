"""Monitoreo 360."""
