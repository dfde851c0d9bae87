"""A real but tiny, randomly initialised model directory for tests (built in well under a second).

The directory looks exactly like a trained one: weights (safetensors), a fast tokenizer
with the format markers as tokens, and ``dialogue_format.json``. Replies are gibberish,
but every code path (tokenising, truncation, batching, decoding) is the real one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from dialogue.format import FormatSpec
from training.experiments.config import ScratchModelConfig
from training.models.scratch import save_random_model

VOCAB_SIZE = 400

CORPUS = """\
Привет! Как дела?
Хорошо, спасибо. А у тебя?
Я люблю читать книги и гулять в парке.
У меня есть собака, её зовут Рекс.
Чем ты занимаешься по выходным?
Обычно я играю в футбол с друзьями.
Я работаю программистом в Москве.
Какая у тебя любимая еда?
Мне нравится пицца и борщ.
Ты любишь путешествовать?
Да, летом я ездил на море.
Я учусь в университете на втором курсе.
Моя любимая музыка — рок и джаз.
Сегодня хорошая погода, солнце светит.
Давай познакомимся, меня зовут Аня.
Очень приятно, а я Иван.
У меня две кошки и попугай.
Я не пью кофе, только чай.
Вечером я смотрю фильмы.
Что ты думаешь о кино?
Hello! How are you today?
I am fine, thanks. And you?
I like to read books and walk in the park.
My dog is called Rex.
What do you do on weekends?
I usually play football with friends.
I work as a programmer in Moscow.
What is your favourite food?
I love pizza and soup.
Do you like to travel?
""".splitlines()


# The project's own scratch builders (training/models/scratch.py), only much smaller.
TINY_SIZES = ScratchModelConfig(d_model=32, num_layers=2, num_heads=2, d_ff=64, vocab_size=VOCAB_SIZE)


def build_tiny_model(out_dir: Path, *, causal: bool = False, format_name: str | None = None) -> Path:
    """Write a tiny model directory to ``out_dir`` and return it."""
    spec = FormatSpec(
        name=format_name or ("concat_causal" if causal else "godel"),
        max_fact_tokens=16,
        max_utterance_tokens=24,
        max_history_turns=4,
        max_persona_facts=5,
        max_source_tokens=96,
        max_target_tokens=24,
        extra={"built_by": "tests/tiny_model.py"},
    )
    # The same weights whichever test builds it first: figures a test asserts must not hang on the run order.
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return save_random_model(out_dir, CORPUS, TINY_SIZES, spec, causal=causal, max_positions=256)
