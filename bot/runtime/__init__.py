"""How the product runs: the one list of background jobs, their threads, Celery and gunicorn, and
preparing a database."""
