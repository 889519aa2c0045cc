"""Personal data (Ley 1581 de 2012): what is kept, how it is let go, and redaction of free text."""
