"""Settings from the environment and `.env`, built once at start-up and frozen.

Every variable is documented in `.env.example`. A missing or invalid value raises
`SettingsError` naming the variable and what it expects; `python -m bot` prints it and
exits instead of a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from dotenv import dotenv_values

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "ru-persona-gemma"
DECODING_STRATEGIES = ("greedy", "beam", "sampling", "contrastive")
CT2_COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32")
"""CTranslate2 CPU compute types (``CT2_COMPUTE_TYPE``); the converted weights are stored quantized this way too."""

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class DecodingSettings:
    """How replies are decoded (the `generate()` arguments)."""

    # Greedy with n-gram blocking and a repetition penalty (both on the reply only; the bot's earlier replies
    # are kept out too) that ends a reply only where its end is at least even odds: what the default model's
    # test metrics and conversation checks were measured with (models/ru-persona-gemma/README.md). Contrastive
    # search was best for the T5 (models/ru-persona-t5/decoding.md). Sampling has its own settings: 🔄
    # regenerates by sampling.
    strategy: str = "greedy"
    max_new_tokens: int = 40
    min_new_tokens: int = 1
    """The reply's end (EOS or a line break) cannot come before this many tokens (at least 1: never empty).
    The default model stops after about 5 words where people write 9. Held to 10 tokens it adds a persona fact
    or asks back (test persona usage 0.56 -> 0.75, chrF++ 8.9 -> 12.4), but also invents («Меня зовут Аня»),
    distinct-2 falls under 0.3, and a fact it volunteered early cannot be said again when asked (the earlier-
    reply n-gram ban): not the default (docs/model_recipe.md, session 10)."""
    min_end_probability: float = 0.6
    """Greedy only: the reply ends only where its end is at least this likely (0.5: at least as likely as going on),
    not wherever the end is merely the most likely next token (0, plain greedy, which stops after a short answer
    while most of the probability goes on); ``bot.generation.reply_end``. On the shipped model's 200 validation rows
    0 / 0.5 / 0.6 give replies of 5.7 / 9.5 / 10.7 words, chrF++ 10.0 / 12.9 / 13.2 at F1 0.174-0.175: 0.6 is that
    comparison's pick (its ``decoding.md``); on session 13's model 0.6 rambled (docs/model_recipe.md, sessions 13-16)."""
    num_beams: int = 4
    length_penalty: float = 1.0
    """Beam search: hypotheses are ranked by their log-probability over (reply length ** length_penalty), so
    above 1 longer replies win more often (both backends count the reply's tokens only)."""
    top_p: float = 0.9
    top_k: int = 50
    temperature: float = 0.8
    penalty_alpha: float = 0.6
    contrastive_top_k: int = 4
    no_repeat_ngram_size: int = 3
    repetition_penalty: float = 1.2
    no_repeat_earlier_ngram_size: int = 3
    """n of the word n-grams of the bot's earlier replies in the dialogue that a reply may not repeat (a reply
    of one word is banned whole; ``bot.generation.earlier_replies``): whatever the strategy and backend, no reply
    comes twice. A banned word is banned in every case and split into tokens, so the model says another word, not
    another spelling («врачем», «Пироги»). A persona fact's n-grams are free while one earlier reply holds them,
    so a fact can be said once more when asked (docs/model_recipe.md, sessions 15 and 16)."""

    def __post_init__(self) -> None:
        if self.strategy not in DECODING_STRATEGIES:
            raise SettingsError(f"DECODING_STRATEGY must be one of {', '.join(DECODING_STRATEGIES)}, got {self.strategy!r}")
        if self.min_new_tokens < 1:
            raise SettingsError(f"MIN_NEW_TOKENS must be at least 1, got {self.min_new_tokens}")
        if self.no_repeat_earlier_ngram_size < 2:  # 1 would ban every token said before, the end too
            raise SettingsError(f"NO_REPEAT_EARLIER_NGRAM_SIZE must be at least 2, got {self.no_repeat_earlier_ngram_size}")
        if not 0 <= self.min_end_probability <= 1:
            raise SettingsError(f"MIN_END_PROBABILITY must be within 0..1, got {self.min_end_probability}")

    @property
    def min_tokens(self) -> int:
        """``min_new_tokens`` within ``max_new_tokens``: a short MAX_NEW_TOKENS alone is not an error."""
        return min(self.min_new_tokens, self.max_new_tokens)

    def to_generate_kwargs(self) -> dict[str, object]:
        common: dict[str, object] = {
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_tokens,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.strategy == "greedy":
            return {**common, "do_sample": False, "num_beams": 1, "min_end_probability": self.min_end_probability}
        if self.strategy == "beam":
            return {**common, "do_sample": False, "num_beams": self.num_beams, "early_stopping": True,
                    "length_penalty": self.length_penalty}
        if self.strategy == "contrastive":
            # Arguments of bot.generation.contrastive (generate() hands them over), not GenerationConfig
            # flags: as top_k, transformers would warn that greedy decoding ignores it.
            return {**common, "do_sample": False, "penalty_alpha": self.penalty_alpha,
                    "contrastive_top_k": self.contrastive_top_k}
        return {**common, "do_sample": True, "top_p": self.top_p, "top_k": self.top_k, "temperature": self.temperature}

    def describe(self) -> dict[str, object]:
        """What is stored with every bot reply."""
        return {"strategy": self.strategy, **self.to_generate_kwargs()}


@dataclass(frozen=True)
class SelectionSettings:
    """Reply selection (``bot.generation.selection``): candidates per request, scored (``RERANK_*``)."""

    candidates: int = 0
    """Sampled candidates per request; 0 turns selection off (one reply, the decoding settings' own)."""
    persona_weight: float = 1.0
    """λ: how much of the reply's likelihood *without* the persona is subtracted (0: plain likelihood)."""
    repeat_penalty: float = 0.0
    """Subtracted per unit of similarity to the bot's earlier replies and the user's message."""
    consensus_weight: float = 0.0
    """μ: added per unit of agreement (mean chrF++, 0..1) with the request's other candidates (minimum Bayes risk)."""

    def __post_init__(self) -> None:
        if min(self.candidates, self.persona_weight, self.repeat_penalty, self.consensus_weight) < 0:
            raise SettingsError("RERANK_CANDIDATES, RERANK_PERSONA_WEIGHT, RERANK_REPEAT_PENALTY and "
                                "RERANK_CONSENSUS_WEIGHT must be >= 0")

    @property
    def enabled(self) -> bool:
        return self.candidates > 0


@dataclass(frozen=True)
class Settings:
    telegram_token: str | None = field(default=None, repr=False)  # never printed
    telegram_api_url: str = "https://api.telegram.org"
    bot_mode: str = "polling"
    webhook_url: str | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8080
    webhook_secret: str | None = field(default=None, repr=False)
    database_path: Path = PROJECT_ROOT / "data" / "bot.sqlite3"
    model_path: str = str(DEFAULT_MODEL_PATH)
    model_backend: str = "transformers"
    ct2_compute_type: str = "int8"
    """CTranslate2's weights and arithmetic (``CT2_COMPUTE_TYPES``); int8 is fastest, float32 gives transformers'
    replies (persona probes 18/25 against 20/25 for the default model, docs/model_recipe.md session 11)."""
    torch_threads: int = 0
    batch_max_size: int = 8
    batch_max_wait_ms: int = 0
    generation_timeout_s: float = 60.0
    decoding: DecodingSettings = DecodingSettings()
    selection: SelectionSettings = SelectionSettings()
    flood_burst: int = 10
    flood_per_minute: float = 30.0
    max_concurrent_updates: int = 64
    allowed_user_ids: frozenset[int] = frozenset()
    admin_ids: frozenset[int] = frozenset()
    shutdown_grace_s: float = 20.0
    log_level: str = "INFO"

    @property
    def has_telegram(self) -> bool:
        return bool(self.telegram_token)


def load_settings(env: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Settings from ``env`` (default: `.env` overlaid by the process environment)."""
    if env is None:
        file_values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file else {}
        env = {**file_values, **os.environ}
    get = _Reader(env)
    decoding = DecodingSettings(
        strategy=get("DECODING_STRATEGY", str, DecodingSettings.strategy, choices=DECODING_STRATEGIES),
        max_new_tokens=get("MAX_NEW_TOKENS", int, DecodingSettings.max_new_tokens, low=1, high=512),
        min_new_tokens=get("MIN_NEW_TOKENS", int, DecodingSettings.min_new_tokens, low=1, high=512),
        min_end_probability=get("MIN_END_PROBABILITY", float, DecodingSettings.min_end_probability, low=0.0, high=1.0),
        num_beams=get("NUM_BEAMS", int, DecodingSettings.num_beams, low=1, high=16),
        length_penalty=get("LENGTH_PENALTY", float, DecodingSettings.length_penalty, low=0.0, high=5.0),
        top_p=get("TOP_P", float, DecodingSettings.top_p, low=0.01, high=1.0),
        top_k=get("TOP_K", int, DecodingSettings.top_k, low=1, high=1000),
        temperature=get("TEMPERATURE", float, DecodingSettings.temperature, low=0.01, high=5.0),
        penalty_alpha=get("PENALTY_ALPHA", float, DecodingSettings.penalty_alpha, low=0.0, high=1.0),
        contrastive_top_k=get("CONTRASTIVE_TOP_K", int, DecodingSettings.contrastive_top_k, low=1, high=100),
        no_repeat_ngram_size=get("NO_REPEAT_NGRAM_SIZE", int, DecodingSettings.no_repeat_ngram_size, low=0, high=10),
        repetition_penalty=get("REPETITION_PENALTY", float, DecodingSettings.repetition_penalty, low=1.0, high=5.0),
        no_repeat_earlier_ngram_size=get("NO_REPEAT_EARLIER_NGRAM_SIZE", int, DecodingSettings.no_repeat_earlier_ngram_size,
                                         low=2, high=64),
    )
    webhook_url = get("WEBHOOK_URL", str, None)
    bot_mode = get("BOT_MODE", str, Settings.bot_mode, choices=("polling", "webhook"))
    if bot_mode == "webhook" and not webhook_url:
        raise SettingsError("WEBHOOK_URL: required when BOT_MODE=webhook (the public https URL Telegram posts to)")
    token = get("TELEGRAM_BOT_TOKEN", str, None)
    if token is not None and (":" not in token or " " in token):
        raise SettingsError("TELEGRAM_BOT_TOKEN: expected a token from @BotFather like 123456:ABC-DEF…")
    return Settings(
        telegram_token=token,
        telegram_api_url=get("TELEGRAM_API_URL", str, Settings.telegram_api_url).rstrip("/"),
        bot_mode=bot_mode,
        webhook_url=webhook_url,
        webhook_host=get("WEBHOOK_HOST", str, Settings.webhook_host),
        webhook_port=get("WEBHOOK_PORT", int, Settings.webhook_port, low=1, high=65535),
        webhook_secret=get("WEBHOOK_SECRET", str, None),
        database_path=Path(get("DATABASE_PATH", str, str(Settings.database_path))),
        model_path=get("MODEL_PATH", str, Settings.model_path),
        model_backend=get("MODEL_BACKEND", str, Settings.model_backend, choices=("transformers", "ctranslate2")),
        ct2_compute_type=get("CT2_COMPUTE_TYPE", str, Settings.ct2_compute_type, choices=CT2_COMPUTE_TYPES),
        torch_threads=get("TORCH_THREADS", int, Settings.torch_threads, low=0, high=256),
        batch_max_size=get("BATCH_MAX_SIZE", int, Settings.batch_max_size, low=1, high=256),
        batch_max_wait_ms=get("BATCH_MAX_WAIT_MS", int, Settings.batch_max_wait_ms, low=0, high=10_000),
        generation_timeout_s=get("GENERATION_TIMEOUT_S", float, Settings.generation_timeout_s, low=0.1, high=3600),
        decoding=decoding,
        selection=SelectionSettings(
            candidates=get("RERANK_CANDIDATES", int, SelectionSettings.candidates, low=0, high=64),
            persona_weight=get("RERANK_PERSONA_WEIGHT", float, SelectionSettings.persona_weight, low=0.0, high=10.0),
            repeat_penalty=get("RERANK_REPEAT_PENALTY", float, SelectionSettings.repeat_penalty, low=0.0, high=100.0),
            consensus_weight=get("RERANK_CONSENSUS_WEIGHT", float, SelectionSettings.consensus_weight,
                                 low=0.0, high=100.0),
        ),
        flood_burst=get("FLOOD_BURST", int, Settings.flood_burst, low=1, high=10_000),
        flood_per_minute=get("FLOOD_PER_MINUTE", float, Settings.flood_per_minute, low=0.0, high=60_000),
        max_concurrent_updates=get("MAX_CONCURRENT_UPDATES", int, Settings.max_concurrent_updates, low=1, high=10_000),
        allowed_user_ids=get("ALLOWED_USER_IDS", _id_set, frozenset()),
        admin_ids=get("ADMIN_IDS", _id_set, frozenset()),
        shutdown_grace_s=get("SHUTDOWN_GRACE_S", float, Settings.shutdown_grace_s, low=0.0, high=600),
        log_level=get("LOG_LEVEL", str, Settings.log_level, choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    )


def _id_set(raw: str) -> frozenset[int]:
    return frozenset(int(part) for part in raw.replace(" ", "").split(",") if part)


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def __call__(
        self,
        name: str,
        parse: Callable[[str], T],
        default: T,
        *,
        low: float | None = None,
        high: float | None = None,
        choices: tuple[str, ...] | None = None,
    ) -> T:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        raw = raw.strip()
        what = {int: "an integer", float: "a number", _id_set: "comma-separated numeric user ids"}.get(parse, "text")
        try:
            value = parse(raw)
        except ValueError:
            raise SettingsError(f"{name}: expected {what}, got {raw!r}") from None
        if choices is not None and value not in choices:
            raise SettingsError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
        if low is not None and value < low or high is not None and value > high:  # type: ignore[operator]
            raise SettingsError(f"{name}: expected {what} from {low} to {high}, got {raw!r}")
        return value
