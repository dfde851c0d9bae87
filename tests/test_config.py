"""Settings: defaults, parsing, the model's own decoding with overrides, and errors that name the variable
without leaking secrets."""

import re
from pathlib import Path
from dataclasses import replace

import pytest
from dotenv import dotenv_values

from bot.config import (
    DECODING_FILE,
    PROJECT_ROOT,
    DecodingSettings,
    Settings,
    SettingsError,
    load_settings,
    read_model_decoding,
    write_model_decoding,
)

TOKEN = "123456:SECRET-token-value"


def test_defaults_without_environment():
    settings = load_settings({})
    assert not settings.has_telegram and settings.telegram_token is None
    assert settings.bot_mode == "polling" and settings.serving_decoding() == DecodingSettings()
    assert settings.decoding_overrides == {} and not settings.selection.enabled


def test_values_are_parsed():
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BATCH_MAX_SIZE": "16",
            "TOP_P": "0.95",
            "DECODING_STRATEGY": "beam",
            "NUM_BEAMS": "3",
            "ADMIN_IDS": "1, 2,3",
            "DATABASE_PATH": "/tmp/x.sqlite3",
            "CT2_COMPUTE_TYPE": "float32",
            "RERANK_CANDIDATES": "4",
            "TELEGRAM_API_URL": "http://localhost:8081/",
        }
    )
    assert settings.ct2_compute_type == "float32" and load_settings({}).ct2_compute_type == "int8"
    assert settings.has_telegram and settings.telegram_token.get_secret_value() == TOKEN
    assert settings.batch_max_size == 16 and settings.admin_ids == frozenset({1, 2, 3})
    assert str(settings.database_path) == "/tmp/x.sqlite3" and settings.telegram_api_url == "http://localhost:8081"
    assert settings.selection.candidates == 4 and settings.selection.enabled
    decoding = settings.serving_decoding()
    assert decoding.top_p == 0.95 and decoding.to_generate_kwargs()["num_beams"] == 3
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_a_database_url_replaces_the_sqlite_file_and_its_password_is_never_shown():
    from bot.storage.database import database_url, shown

    assert load_settings({"DATABASE_PATH": "/tmp/x.sqlite3"}).database_target == Path("/tmp/x.sqlite3")
    url = "postgresql://bot:pa55word@db:5432/bot"
    settings = load_settings({"DATABASE_URL": url, "REDIS_URL": "redis://:redispass@cache:6379/0"})
    assert settings.database_target == url
    assert str(database_url(url).drivername) == "postgresql+asyncpg" and "pa55word" not in shown(database_url(url))
    assert database_url("sqlite:///data/x.sqlite3").drivername == "sqlite+aiosqlite"
    for secret in ("pa55word", "redispass"):
        assert secret not in repr(settings) and secret not in str(settings.model_dump())
    for bad, expected in (("mysql://bot:pa55word@db/bot", "mysql is not supported"),
                          ("postgresql://bot:pa55word@db:port/bot", "expected an SQLAlchemy URL"),
                          ("nonsense", "expected an SQLAlchemy URL")):
        with pytest.raises(SettingsError, match=expected) as caught:
            load_settings({"DATABASE_URL": bad})
        assert "pa55word" not in str(caught.value)
    with pytest.raises(SettingsError, match="redis://HOST"):
        load_settings({"REDIS_URL": "localhost:6379"})


def test_the_model_carries_its_decoding_and_the_environment_overrides_it(tmp_path):
    """A model directory's ``decoding_settings.json`` (written by training.evaluate) is how the bot serves it;
    a variable set by the operator wins over it, field by field; ``decoding`` set in code replaces it."""
    carried = DecodingSettings(strategy="greedy", min_end_probability=0.6, max_new_tokens=32, repetition_penalty=1.3)
    assert read_model_decoding(tmp_path) is None
    write_model_decoding(tmp_path, carried, preset="greedy-end0.6")
    assert (tmp_path / DECODING_FILE).is_file() and read_model_decoding(tmp_path) == carried
    assert load_settings({}).serving_decoding(read_model_decoding(tmp_path)) == carried
    overridden = load_settings({"MAX_NEW_TOKENS": "20", "DECODING_STRATEGY": "sampling"}).serving_decoding(carried)
    assert overridden == replace(carried, max_new_tokens=20, strategy="sampling")
    chosen = Settings(decoding=DecodingSettings(strategy="beam"), _env_file=None)
    assert chosen.serving_decoding(carried).strategy == "beam"
    (tmp_path / DECODING_FILE).write_text('{"settings": {"strategy": "magic"}}')
    with pytest.raises(SettingsError, match=DECODING_FILE):
        read_model_decoding(tmp_path)


def test_the_shipped_models_carry_the_decoding_their_test_metrics_were_measured_with():
    import json

    for name in ("ru-persona-gemma", "ru-persona-t5"):
        model_dir = PROJECT_ROOT / "models" / name
        measured = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))["decoding"]
        served = read_model_decoding(model_dir).describe()
        assert {key: served[key] for key in measured} == measured, name


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"BATCH_MAX_SIZE": "many"}, "BATCH_MAX_SIZE"),
        ({"BATCH_MAX_SIZE": "0"}, "BATCH_MAX_SIZE"),
        ({"TOP_P": "1.5"}, "TOP_P"),
        ({"DECODING_STRATEGY": "magic"}, "DECODING_STRATEGY"),
        ({"MAX_NEW_TOKENS": "0"}, "MAX_NEW_TOKENS"),
        ({"CT2_COMPUTE_TYPE": "float16"}, "CT2_COMPUTE_TYPE"),  # no GPU: CPU types only
        ({"RERANK_CANDIDATES": "-1"}, "RERANK_CANDIDATES"),
        ({"ADMIN_IDS": "1,x"}, "ADMIN_IDS"),
        ({"BOT_MODE": "webhook"}, "WEBHOOK_URL"),
        ({"TELEGRAM_BOT_TOKEN": "no colon here"}, "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_invalid_values_name_the_variable(env, variable):
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_bad_token_error_does_not_echo_it():
    with pytest.raises(SettingsError) as error:
        load_settings({"TELEGRAM_BOT_TOKEN": "leaky secret"})
    assert "leaky secret" not in str(error.value)


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("BATCH_MAX_SIZE=3\nTOP_K=7\nWEBHOOK_SECRET=\n")
    monkeypatch.setenv("TOP_K", "9")
    monkeypatch.delenv("BATCH_MAX_SIZE", raising=False)
    settings = load_settings(env_file=env_file)
    assert settings.batch_max_size == 3 and settings.serving_decoding().top_k == 9
    assert settings.webhook_secret is None  # empty means the default


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sampling", "contrastive"])
def test_every_strategy_has_generate_kwargs(strategy):
    kwargs = DecodingSettings(strategy=strategy).to_generate_kwargs()
    assert kwargs["max_new_tokens"] == 40
    assert kwargs.get("do_sample", False) == (strategy == "sampling")


def test_env_example_documents_every_setting_and_loads_as_the_defaults():
    """Every variable Settings reads is in .env.example and every one there is read; the file loads as the
    defaults."""
    read = {name.upper() for name, field in Settings.model_fields.items() if name != "decoding"}
    read = (read - {"TELEGRAM_TOKEN"}) | {"TELEGRAM_BOT_TOKEN"}
    documented = set(re.findall(r"^#? ?([A-Z_0-9]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read == documented
    example = {k: v for k, v in dotenv_values(PROJECT_ROOT / ".env.example").items() if v is not None}
    assert load_settings(example) == load_settings({})


def test_sampling_and_contrastive_search_have_their_own_top_k():
    # 🔄 samples with the bot's decoding settings: contrastive search's few candidates must not narrow it.
    decoding = replace(load_settings({"TOP_K": "40"}).serving_decoding(), contrastive_top_k=6)
    assert replace(decoding, strategy="sampling").to_generate_kwargs()["top_k"] == 40
    assert replace(decoding, strategy="contrastive").to_generate_kwargs()["contrastive_top_k"] == 6
    assert DecodingSettings().top_k > DecodingSettings().contrastive_top_k
