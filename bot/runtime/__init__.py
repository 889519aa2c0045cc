"""How the product runs: settings, the one list of background jobs, their threads, Celery and gunicorn."""
