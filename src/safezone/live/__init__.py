"""The live hub: pushes JSON messages to the consoles connected over WebSocket."""
