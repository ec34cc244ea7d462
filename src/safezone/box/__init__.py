"""The reference SOS-box agent (``safezone-box``): runs on the box, talks MQTT to the server."""
