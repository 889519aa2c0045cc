"""Monthly waves: who is invited (sampling), when (scheduler), and the results sent back to the entities."""
