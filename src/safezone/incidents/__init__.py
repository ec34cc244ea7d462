"""Incidents: what happened, where, and the timeline of handling it."""
