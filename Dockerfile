# The Telegram bot on CPU. Build:  docker build -t persona-bot .
# Run (see docs/deploy.md):       docker run --env-file .env -v bot-data:/data persona-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    MODEL_PATH=/app/models/ru-persona-t5

WORKDIR /app

# CPU-only torch first, from PyTorch's CPU index: the default wheel drags in CUDA (gigabytes).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.1,<3"

COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY dialogue ./dialogue
COPY migrations ./migrations
RUN pip install .
# The shipped default model (another one can be mounted and named by MODEL_PATH).
COPY models/ru-persona-t5 ./models/ru-persona-t5

# Non-root; the database lives in a volume it owns.
RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data
USER bot
VOLUME ["/data"]

# Migrations are applied at start (Database.open runs `alembic upgrade head`).
# SIGTERM lets in-flight replies finish within SHUTDOWN_GRACE_S: give `docker stop` longer.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "telegram"]
