"""Who is who: the directory of contacts and the DER's people in the territories."""
