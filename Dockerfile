# The production image (docs/deploy.md): the web app under gunicorn (`m360 serve --production`) and the
# Celery worker and beat (`celery -A bot.runtime.tasks worker` / `beat`) run from it, with PostgreSQL and Redis.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    M360_MODELS_DIR=/app/models M360_DATA_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot bot
COPY surveys surveys
COPY webhooks webhooks
COPY analysis analysis
RUN pip install '.[production]' \
 && m360 coder train --all \
 && useradd --system --home-dir /app m360 && mkdir -p /app/var && chown m360 /app/var
USER m360
EXPOSE 8000
CMD ["m360", "serve", "--production", "--host", "0.0.0.0", "--port", "8000"]
