"""Settings: defaults, parsing, and errors that name the variable without leaking secrets."""

import re
from dataclasses import replace

import pytest
from dotenv import dotenv_values

from bot.config import PROJECT_ROOT, DecodingSettings, SettingsError, load_settings

TOKEN = "123456:SECRET-token-value"


def test_defaults_without_environment():
    settings = load_settings({})
    assert not settings.has_telegram
    assert settings.bot_mode == "polling" and settings.decoding == DecodingSettings()


def test_values_are_parsed():
    settings = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "BATCH_MAX_SIZE": "16",
            "TOP_P": "0.95",
            "DECODING_STRATEGY": "beam",
            "LENGTH_PENALTY": "2",
            "MIN_NEW_TOKENS": "6",
            "ADMIN_IDS": "1, 2,3",
            "DATABASE_PATH": "/tmp/x.sqlite3",
            "CT2_COMPUTE_TYPE": "float32",
            "RERANK_CONSENSUS_WEIGHT": "2.5",
            "MIN_END_PROBABILITY": "0.4",
            "NO_REPEAT_EARLIER_NGRAM_SIZE": "5",
        }
    )
    assert settings.selection.consensus_weight == 2.5 and load_settings({}).selection.consensus_weight == 0.0
    assert settings.ct2_compute_type == "float32" and load_settings({}).ct2_compute_type == "int8"
    assert settings.has_telegram and settings.batch_max_size == 16
    assert settings.decoding.top_p == 0.95 and settings.admin_ids == frozenset({1, 2, 3})
    assert settings.decoding.to_generate_kwargs()["num_beams"] == 4
    assert settings.decoding.to_generate_kwargs()["length_penalty"] == 2.0
    assert settings.decoding.to_generate_kwargs()["min_new_tokens"] == 6
    assert settings.decoding.no_repeat_earlier_ngram_size == 5
    assert settings.decoding.min_end_probability == 0.4  # greedy's own: not among beam search's arguments
    assert "min_end_probability" not in settings.decoding.to_generate_kwargs()
    assert replace(settings.decoding, strategy="greedy").describe()["min_end_probability"] == 0.4
    short = load_settings({"MIN_NEW_TOKENS": "10", "MAX_NEW_TOKENS": "4"}).decoding  # the minimum yields
    assert short.min_new_tokens == 10 and short.to_generate_kwargs()["min_new_tokens"] == 4
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"BATCH_MAX_SIZE": "many"}, "BATCH_MAX_SIZE"),
        ({"BATCH_MAX_SIZE": "0"}, "BATCH_MAX_SIZE"),
        ({"TOP_P": "1.5"}, "TOP_P"),
        ({"DECODING_STRATEGY": "magic"}, "DECODING_STRATEGY"),
        ({"MIN_NEW_TOKENS": "0"}, "MIN_NEW_TOKENS"),
        ({"MIN_END_PROBABILITY": "1.5"}, "MIN_END_PROBABILITY"),
        ({"NO_REPEAT_EARLIER_NGRAM_SIZE": "1"}, "NO_REPEAT_EARLIER_NGRAM_SIZE"),
        ({"CT2_COMPUTE_TYPE": "float16"}, "CT2_COMPUTE_TYPE"),  # no GPU: CPU types only
        ({"RERANK_CONSENSUS_WEIGHT": "-1"}, "RERANK_CONSENSUS_WEIGHT"),
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
    env_file.write_text("BATCH_MAX_SIZE=3\nTOP_K=7\n")
    monkeypatch.setenv("TOP_K", "9")
    monkeypatch.delenv("BATCH_MAX_SIZE", raising=False)
    settings = load_settings(env_file=env_file)
    assert settings.batch_max_size == 3 and settings.decoding.top_k == 9


@pytest.mark.parametrize("strategy", ["greedy", "beam", "sampling", "contrastive"])
def test_every_strategy_has_generate_kwargs(strategy):
    kwargs = DecodingSettings(strategy=strategy).to_generate_kwargs()
    assert kwargs["max_new_tokens"] == 40
    assert kwargs.get("do_sample", False) == (strategy == "sampling")


def test_env_example_documents_every_setting_at_its_default():
    """Every variable load_settings reads is in .env.example, and the file itself loads as the defaults."""

    read = set(re.findall(r'get\(\s*"([A-Z_]+)"', (PROJECT_ROOT / "bot" / "config.py").read_text()))
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read and read == documented
    example = {k: v for k, v in dotenv_values(PROJECT_ROOT / ".env.example").items() if v is not None}
    assert load_settings(example) == load_settings({})


def test_sampling_and_contrastive_search_have_their_own_top_k():
    # 🔄 samples with the bot's decoding settings: contrastive search's few candidates must not narrow it.
    decoding = load_settings({"TOP_K": "40", "CONTRASTIVE_TOP_K": "6"}).decoding
    assert replace(decoding, strategy="sampling").to_generate_kwargs()["top_k"] == 40
    assert replace(decoding, strategy="contrastive").to_generate_kwargs()["contrastive_top_k"] == 6
    assert DecodingSettings().top_k > DecodingSettings().contrastive_top_k
