"""The domain: questionnaires, answer parsing, the interview engine, entities and storage."""
