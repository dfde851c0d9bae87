"""Settings from the environment and `.env` (pydantic-settings), validated in one place and frozen.

An operator sets what runs the bot: Telegram, storage, the model and how it is served. How replies are decoded
comes with the model (``decoding_settings.json`` in its directory, written by ``training.evaluate``: the bot
serves a model as it was evaluated); a few decoding variables override it. Every variable is documented in
`.env.example` (a test checks both ways). A missing or invalid value raises `SettingsError` naming the variable
and what it expects, never echoing a secret; `python -m bot` prints it and exits instead of a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = PROJECT_ROOT / "models" / "ru-persona-gemma"
DECODING_STRATEGIES = ("greedy", "beam", "sampling", "contrastive")
CT2_COMPUTE_TYPES = ("int8", "int8_float32", "int16", "float32")
"""CTranslate2 CPU compute types (``CT2_COMPUTE_TYPE``); the converted weights are stored quantized this way too."""
DECODING_FILE = "decoding_settings.json"
"""In a model directory: the decoding the model was evaluated with, which the bot serves it with."""


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class DecodingSettings:
    """How replies are decoded. The defaults are plain greedy with the bot's reply rules; a model directory
    carries its own (``DECODING_FILE``), chosen on its validation split."""

    strategy: str = "greedy"
    """greedy, beam, sampling (🔄 regenerates by sampling) or contrastive."""
    max_new_tokens: int = 40
    min_new_tokens: int = 1
    """The reply's end (EOS or a line break) cannot come before this many tokens (at least 1: never empty)."""
    min_end_probability: float = 0.0
    """Greedy only: the reply ends only where its end is at least this likely (0.5: at least as likely as going on),
    not wherever the end is merely the most likely next token (0); ``rules.EndOnlyWhenLikely``."""
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
    comes twice. A persona fact's n-grams are free while one earlier reply holds them, so a fact can be said once
    more when asked."""

    def __post_init__(self) -> None:
        if self.strategy not in DECODING_STRATEGIES:
            raise SettingsError(f"DECODING_STRATEGY must be one of {', '.join(DECODING_STRATEGIES)}, got {self.strategy!r}")
        if self.min_new_tokens < 1:
            raise SettingsError(f"min_new_tokens must be at least 1, got {self.min_new_tokens}")
        if self.no_repeat_earlier_ngram_size < 2:  # 1 would ban every token said before, the end too
            raise SettingsError(f"no_repeat_earlier_ngram_size must be at least 2, got {self.no_repeat_earlier_ngram_size}")
        if not 0 <= self.min_end_probability <= 1:
            raise SettingsError(f"min_end_probability must be within 0..1, got {self.min_end_probability}")

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
            return {**common, "do_sample": False, "num_beams": 1}
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
        """What is stored with every bot reply: the engine's arguments and the rules' settings."""
        rules = {"min_end_probability": self.min_end_probability} if self.strategy == "greedy" else {}
        return {"strategy": self.strategy, **self.to_generate_kwargs(), **rules}


def read_model_decoding(model_dir: str | Path) -> DecodingSettings | None:
    """The decoding a model directory carries (``DECODING_FILE``), or None (a hub id, or an older directory)."""
    path = Path(model_dir).expanduser() / DECODING_FILE
    if not path.is_file():
        return None
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))["settings"]
        return DecodingSettings(**fields)
    except (ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"{path}: not a decoding this bot can serve ({exc})") from None


def write_model_decoding(model_dir: str | Path, decoding: DecodingSettings, *, preset: str | None = None) -> Path:
    """Record the decoding a model was evaluated with, for the bot to serve it with."""
    path = Path(model_dir) / DECODING_FILE
    record = {"preset": preset, "settings": dataclasses.asdict(decoding)}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class SelectionSettings:
    """Reply selection (``bot.generation.selection``): candidates per request, scored by the weights below."""

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
            raise SettingsError("selection: candidates and weights must be >= 0")

    @property
    def enabled(self) -> bool:
        return self.candidates > 0


IdSet = Annotated[frozenset[int], NoDecode]
"""Comma-separated numeric ids («1, 2,3»), not JSON."""
DECODING_OVERRIDES = {"decoding_strategy": "strategy", "max_new_tokens": "max_new_tokens", "num_beams": "num_beams",
                      "top_p": "top_p", "top_k": "top_k", "temperature": "temperature",
                      "no_repeat_ngram_size": "no_repeat_ngram_size", "repetition_penalty": "repetition_penalty"}
"""Settings field -> the DecodingSettings field it overrides."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment, grouped as in `.env.example`."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False, env_ignore_empty=True,
                                      populate_by_name=True)

    # --- Telegram ---
    telegram_token: SecretStr | None = Field(None, validation_alias=AliasChoices("telegram_bot_token", "telegram_token"))
    telegram_api_url: str = "https://api.telegram.org"
    bot_mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(8080, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    allowed_user_ids: IdSet = frozenset()
    admin_ids: IdSet = frozenset()
    flood_burst: int = Field(10, ge=1, le=10_000)
    flood_per_minute: float = Field(30.0, ge=0, le=60_000)
    max_concurrent_updates: int = Field(64, ge=1, le=10_000)
    shutdown_grace_s: float = Field(20.0, ge=0, le=600)

    # --- storage ---
    database_path: Path = PROJECT_ROOT / "data" / "bot.sqlite3"
    database_url: SecretStr | None = None
    """An SQLAlchemy URL, e.g. postgresql://bot:PASSWORD@db/bot (asyncpg); replaces DATABASE_PATH. A secret: it
    may hold a password."""
    redis_url: SecretStr | None = None
    """redis://host:6379/0: the Telegram conversation state (a half-written persona) kept there, surviving a restart."""

    # --- the model and how it is served ---
    model_path: str = str(DEFAULT_MODEL_PATH)
    model_backend: Literal["transformers", "ctranslate2"] = "transformers"
    ct2_compute_type: Literal[CT2_COMPUTE_TYPES] = "int8"  # type: ignore[valid-type]
    """CTranslate2's weights and arithmetic; int8 is fastest, float32 gives the transformers backend's replies."""
    torch_threads: int = Field(0, ge=0, le=256)
    batch_max_size: int = Field(8, ge=1, le=256)
    batch_max_wait_ms: int = Field(0, ge=0, le=10_000)
    generation_timeout_s: float = Field(60.0, ge=0.1, le=3600)
    rerank_candidates: int = Field(0, ge=0, le=64)
    """Reply selection: sampled candidates per reply, the best one sent (0: off)."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # --- decoding overrides: None keeps the model's own (DECODING_FILE) ---
    decoding_strategy: Literal[DECODING_STRATEGIES] | None = None  # type: ignore[valid-type]
    max_new_tokens: int | None = Field(None, ge=1, le=512)
    num_beams: int | None = Field(None, ge=1, le=16)
    top_p: float | None = Field(None, ge=0.01, le=1.0)
    top_k: int | None = Field(None, ge=1, le=1000)
    temperature: float | None = Field(None, ge=0.01, le=5.0)
    no_repeat_ngram_size: int | None = Field(None, ge=0, le=10)
    repetition_penalty: float | None = Field(None, ge=1.0, le=5.0)

    # --- not from the environment: set by code (tools, tests) ---
    decoding: DecodingSettings | None = Field(None, exclude=True)
    """Serve with exactly this decoding instead of the model's own (the overrides above still apply)."""

    @field_validator("allowed_user_ids", "admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return frozenset(int(part) for part in value.replace(" ", "").split(",") if part)
            except ValueError:
                raise ValueError("expected comma-separated numeric user ids") from None
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and (":" not in value.get_secret_value() or " " in value.get_secret_value()):
            raise ValueError("expected a token from @BotFather like 123456:ABC-DEF…")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from bot.storage.database import database_url

            database_url(value.get_secret_value())  # its errors never quote the URL
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a URL like redis://HOST:6379/0")
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> Settings:
        if self.bot_mode == "webhook" and not self.webhook_url:
            raise ValueError("WEBHOOK_URL: required when BOT_MODE=webhook (the public https URL Telegram posts to)")
        return self

    @property
    def database_target(self) -> str | Path:
        """What ``Database.open`` opens: DATABASE_URL if set, else the SQLite file DATABASE_PATH."""
        return self.database_url.get_secret_value() if self.database_url else self.database_path

    @property
    def has_telegram(self) -> bool:
        return self.telegram_token is not None

    @property
    def decoding_overrides(self) -> dict[str, object]:
        """The DecodingSettings fields this environment sets."""
        return {target: getattr(self, name) for name, target in DECODING_OVERRIDES.items() if getattr(self, name) is not None}

    def serving_decoding(self, model_decoding: DecodingSettings | None = None) -> DecodingSettings:
        """The decoding replies are served with: ``decoding`` if set, else the model's own, else the defaults; with
        this environment's overrides on top."""
        try:
            return dataclasses.replace(self.decoding or model_decoding or DecodingSettings(), **self.decoding_overrides)
        except SettingsError:
            raise
        except (TypeError, ValueError) as exc:  # an override the model's decoding cannot take
            raise SettingsError(str(exc)) from None

    @property
    def selection(self) -> SelectionSettings:
        return SelectionSettings(candidates=self.rerank_candidates)


def load_settings(env: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Settings from ``env`` alone, or (``env=None``) from the process environment over ``env_file``."""
    try:
        if env is None:
            return Settings(_env_file=env_file)
        return _GivenOnly(**{key.lower(): value for key, value in env.items() if value is not None and value.strip()})
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


class _GivenOnly(Settings):
    """Settings read from the values given and nothing else (no environment, no `.env`)."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):  # noqa: ANN001, ANN206
        return (init_settings,)


def _explain(error: ValidationError) -> str:
    """One line per problem, each naming its variable; never the value given (it may be a secret)."""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        message = str(problem["msg"]).removeprefix("Value error, ")
        field = problem["loc"][0] if problem["loc"] else None
        if field is None:
            lines.append(message)
        else:
            name = "TELEGRAM_BOT_TOKEN" if field in ("telegram_token", "telegram_bot_token") else str(field).upper()
            lines.append(f"{name}: {message}")
    return "; ".join(lines)
