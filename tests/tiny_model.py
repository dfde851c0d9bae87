"""A real but tiny, randomly initialised model directory for tests (built in well under a second).

The directory looks exactly like a trained one: weights (safetensors), a fast tokenizer
with the format markers as tokens, and ``dialogue_format.json``. Replies are gibberish,
but every code path (tokenising, truncation, batching, decoding) is the real one.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

from dialogue.format import FormatSpec

MARKERS = ["[CONTEXT]", "[KNOWLEDGE]", "[PERSONA]", "[DIALOGUE]", "EOS"]
PAD, EOS_TOKEN, UNK, BOS = "<pad>", "</s>", "<unk>", "<s>"
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


def _train_tokenizer(causal: bool) -> PreTrainedTokenizerFast:
    specials = [PAD, EOS_TOKEN, UNK] + ([BOS] if causal else [])
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=specials + MARKERS, unk_token=UNK, show_progress=False
    )
    tokenizer.train_from_iterator(CORPUS, trainer=trainer)
    if not causal:  # like T5: the encoder input ends with EOS; a causal prompt must not
        eos_id = tokenizer.token_to_id(EOS_TOKEN)
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS_TOKEN}", pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}", special_tokens=[(EOS_TOKEN, eos_id)]
        )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token=PAD,
        eos_token=EOS_TOKEN,
        unk_token=UNK,
        bos_token=BOS if causal else None,
        additional_special_tokens=[],
    )
    # Markers are ordinary (non-special) added tokens: they must survive decoding of inputs.
    fast.add_tokens(MARKERS)
    return fast


def _seq2seq(tokenizer: PreTrainedTokenizerFast) -> T5ForConditionalGeneration:
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=16,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=2,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return T5ForConditionalGeneration(config)


def _causal(tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    return GPT2LMHeadModel(config)


def build_tiny_model(out_dir: Path, *, causal: bool = False, format_name: str | None = None) -> Path:
    """Write a tiny model directory to ``out_dir`` and return it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tokenizer = _train_tokenizer(causal)
    model = _causal(tokenizer) if causal else _seq2seq(tokenizer)
    with torch.no_grad():  # a random model would stop at once; never emitting these keeps replies non-empty
        for token_id in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
            model.get_output_embeddings().weight[token_id].zero_()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    name = format_name or ("concat_causal" if causal else "godel")
    FormatSpec(
        name=name,
        max_fact_tokens=16,
        max_utterance_tokens=24,
        max_history_turns=4,
        max_persona_facts=5,
        max_source_tokens=96,
        max_target_tokens=24,
        extra={"built_by": "tests/tiny_model.py"},
    ).save(out_dir)
    return out_dir
