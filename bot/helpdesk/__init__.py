"""The mesa de ayuda: tickets, their intake, terms and deadlines, themes, follow-up and its numbers."""
