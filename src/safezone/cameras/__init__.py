"""CCTV cameras linked to the station."""
