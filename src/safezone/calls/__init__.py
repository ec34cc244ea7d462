"""Two-way calls between an operator's console and an SOS box (WebRTC, signalled by the server)."""
