"""SOS emergency boxes."""
