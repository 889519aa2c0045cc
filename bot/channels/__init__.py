"""Channel adapters: thin, pure translations between a provider's payloads and the one message
shape (surveys.messages.Inbound / Outbound). HTTP handling lives in webhooks/channels.py."""
