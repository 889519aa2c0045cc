"""The one sending service for messages the bot starts, and the providers it sends through."""
