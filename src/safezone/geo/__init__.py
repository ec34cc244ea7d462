"""Geometry helpers for safe zones: validation, geodesic area and KML/GeoJSON import."""
