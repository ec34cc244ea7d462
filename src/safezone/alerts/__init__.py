"""System alerts (camera offline, box offline, ...): raised, cleared, acknowledged."""
