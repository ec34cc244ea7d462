"""Map layers as GeoJSON (EPSG:4326), out and in."""
