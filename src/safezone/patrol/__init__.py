"""Patrol checkpoints (the digital red box)."""
