"""The application around the engine: who is talking, commands, channels and the m360 CLI."""
