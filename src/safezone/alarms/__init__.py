"""Alarms (an SOS press, a tamper) and the pipeline from event to acknowledged help."""
