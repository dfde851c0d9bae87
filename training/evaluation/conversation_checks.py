"""``python -m training.evaluation.conversation_checks MODEL_DIR...``: does a model talk from its persona, without repeating itself, and hold a conversation?

Checks that reference metrics miss (a constant sentence scores F1 0.126 on the test split):

* **Persona probes**: 10 personas of 3-5 facts, 2-3 questions each (25 in all) whose answer is one of
  the facts; a reply reflects the fact when it contains one of the fact's stems.
* **Repetition check**: per persona, a scripted 8-turn dialogue of different questions; the bot's
  replies go into the history, and its earlier replies are passed as the Generator passes them (a
  reply may not repeat their n-grams); a reply that repeats an earlier reply of the same dialogue
  (the same words, case and punctuation aside) counts.
* **Conversation** (``training.evaluation.conversation``), through the bot's own path (ChatService, memory,
  Generator): consistency with the persona and with itself, memory of the user in the dialogue and after
  ``/reset``, goodbyes, the user's name (met when told, greeted by it after ``/reset``), the bot's own name (said and
  kept to), replies that respond to what the user told, the ask-back rate and echoes.

Replies come from the bot's own backend (transformers, or ``--backend ctranslate2``) with the directory's
format, greedy (reproducible; ``--decoding`` for another preset), or with reply
selection (``--rerank N``: N sampled candidates, seeded, ranked as the bot ranks them). The figures go to
``checks.json`` in the model directory (the model card shows them), or to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from bot.config import CT2_COMPUTE_TYPES, DecodingSettings, SelectionSettings, Settings
from bot.generation import Generator
from bot.generation.factory import BACKEND_LOADERS, load_backend
from bot.generation.selection import select_replies
from bot.generation.turns import Turn, told_again
from dialogue.format import words_only
from dialogue.grounding import contradicted_fact
from training.evaluation.conversation import run_conversations
from training.evaluation.predict import (
    BOT_DEFAULT,
    DECODING_PRESETS,
    DEFAULT_PRESET,
    SAMPLING_SEED,
    replies_to,
    decoding_preset,
)

CHECKS_FILE = "checks.json"


@dataclass(frozen=True)
class Probe:
    persona: tuple[str, ...]
    question: str
    stems: frozenset[str]
    """Lower-case word stems; one of them in the reply means the fact was used."""


def _probes(persona: tuple[str, ...], *questions: tuple[str, set[str]]) -> list[Probe]:
    return [Probe(persona, question, frozenset(stems)) for question, stems in questions]


TEACHER = ("Я работаю учительницей русского языка.", "Я живу в Казани.", "У меня есть кошка Муська.",
           "Я люблю печь пироги.")
PROBES: list[Probe] = [
    *_probes(TEACHER, ("Кем ты работаешь?", {"учител", "школ", "русск"}),
             ("Где ты живёшь?", {"казан"}), ("У тебя есть домашние животные?", {"кош", "муськ", "кот"})),
    *_probes(("Я работаю врачом.", "У меня есть собака.", "Я живу в Москве."),
             ("Кем ты работаешь?", {"врач", "медиц", "больниц"}), ("У тебя есть домашние животные?", {"собак", "пес", "пёс"}),
             ("В каком городе ты живёшь?", {"москв"})),
    *_probes(("Я играю на гитаре.", "Я студент.", "Я люблю рок."),
             ("Ты играешь на каком-нибудь инструменте?", {"гитар"}), ("Ты учишься или работаешь?", {"учусь", "студент", "университет", "институт"}),
             ("Какую музыку ты слушаешь?", {"рок"})),
    *_probes(("Моя любимая еда — пицца.", "Я работаю программистом.", "Я не люблю спорт."),
             ("Какая твоя любимая еда?", {"пицц"}), ("Чем ты занимаешься по работе?", {"программ", "айти", "it", "код"})),
    *_probes(("У меня двое детей.", "Я живу в деревне.", "Я выращиваю овощи."),
             ("У тебя есть дети?", {"дет", "сын", "доч", "двое"}), ("Ты живёшь в городе?", {"деревн", "село"})),
    *_probes(("Я люблю читать книги.", "Я работаю библиотекарем.", "Я живу в Петербурге."),
             ("Чем ты любишь заниматься в свободное время?", {"книг", "чита"}),
             ("Где ты работаешь?", {"библиот"}), ("Откуда ты?", {"петербург", "питер"})),
    *_probes(("Я водитель такси.", "Я люблю рыбалку.", "У меня есть жена."),
             ("Кем ты работаешь?", {"водител", "такси", "шофер", "шофёр"}), ("Какое у тебя хобби?", {"рыб"}),
             ("Ты женат?", {"жена", "женат"})),
    *_probes(("Я занимаюсь плаванием.", "Мне 20 лет.", "Я живу в Сочи."),
             ("Каким спортом ты занимаешься?", {"плава", "бассейн"}), ("Сколько тебе лет?", {"20", "двадцат"})),
    *_probes(("Я повар.", "Я люблю итальянскую кухню.", "У меня есть попугай."),
             ("Кем ты работаешь?", {"повар", "кухн", "ресторан"}), ("У тебя есть питомцы?", {"попуга"})),
    *_probes(("Я пенсионер.", "Я люблю гулять в парке.", "У меня трое внуков."),
             ("Ты работаешь?", {"пенси"}), ("У тебя есть внуки?", {"внук", "трое"})),
]
"""25 questions over 10 personas."""

SCRIPTED_DIALOGUE = (
    "Привет! Как дела?",
    "Чем ты занимаешься?",
    "Где ты живёшь?",
    "У тебя есть домашние животные?",
    "Что ты любишь есть?",
    "Какое у тебя хобби?",
    "Какую музыку ты слушаешь?",
    "Что ты делал вчера вечером?",
)
"""Eight different questions, asked in this order."""


def reflects(reply: str, stems: frozenset[str]) -> bool:
    return any(stem in reply.lower() for stem in stems)


Replier = Callable[[list[tuple[str, ...]], list[list[str]]], list[str]]
"""(personas, histories) -> one reply each, as the bot would give them."""


def replier(backend, decoding: DecodingSettings = BOT_DEFAULT, selection: SelectionSettings | None = None) -> Replier:  # noqa: ANN001
    """The bot's replies: decoded once with the bot's earlier replies kept out, or selected from candidates."""
    def replies(personas: list[tuple[str, ...]], histories: list[list[str]]) -> list[str]:
        if selection is not None and selection.enabled:
            torch.manual_seed(SAMPLING_SEED)  # candidates are sampled: the same seed, the same figures
            turns = [Turn(tuple(p), tuple(h)) for p, h in zip(personas, histories, strict=True)]
            return [c[0].text if c else "" for c in select_replies(backend, turns, decoding, selection)]
        return replies_to(backend, personas, histories, decoding=decoding, batch_size=max(len(personas), 1))
    return replies


def persona_probes(replies: Replier) -> dict:
    replies = replies([p.persona for p in PROBES], [[p.question] for p in PROBES])
    rows = [{"persona": list(p.persona), "question": p.question, "reply": reply, "reflected": reflects(reply, p.stems)}
            for p, reply in zip(PROBES, replies)]
    hits = sum(row["reflected"] for row in rows)
    return {"reflected": hits, "probes": len(rows), "share": hits / len(rows), "rows": rows}


def scripted_dialogues(replies: Replier) -> dict:
    """Every persona of ``PROBES`` through ``SCRIPTED_DIALOGUE``, the dialogues batched turn by turn."""
    personas = list(dict.fromkeys(p.persona for p in PROBES))
    histories: list[list[str]] = [[] for _ in personas]
    for question in SCRIPTED_DIALOGUE:
        for history in histories:
            history.append(question)
        for history, reply in zip(histories, replies(personas, histories)):
            history.append(reply)
    dialogues, repeats, contradicting, retold = [], 0, 0, 0
    for persona, history in zip(personas, histories):
        replies = history[1::2]
        seen: set[str] = set()
        repeated, against, again = [], [], []
        for index, reply in enumerate(replies):
            repeated.append(words_only(reply) in seen)
            seen.add(words_only(reply))
            # against the persona, or what the bot said of itself before (the facts it keeps to)
            before = history[: 2 * index + 1]
            facts = Turn(persona, tuple(before)).own_facts
            against.append(contradicted_fact(reply, facts))
            again.append(bool(told_again(reply, "", before, facts)))  # a fact told before, unasked
        repeats += sum(repeated)
        contradicting += sum(fact is not None for fact in against)
        retold += sum(again)
        dialogues.append({"persona": list(persona), "turns": [
            {"user": q, "bot": r, "repeat": rep, "contradicts": fact, "told_again": once_more}
            for q, r, rep, fact, once_more in zip(history[0::2], replies, repeated, against, again)]})
    total = len(personas) * len(SCRIPTED_DIALOGUE)
    return {"repeated_replies": repeats, "contradicting_replies": contradicting, "told_again": retold,
            "replies": total, "dialogues": dialogues}


def run_checks(model_dir: Path, decoding: DecodingSettings = BOT_DEFAULT, selection: SelectionSettings | None = None,
               out: Path | None = None, backend_name: str = "transformers",
               ct2_compute_type: str = "int8") -> dict:
    """The checks with the bot's ``MODEL_BACKEND`` ``backend_name`` (loaded as the bot loads it), figures to ``out``."""
    backend = load_backend(Settings(model_path=str(model_dir), model_backend=backend_name, decoding=decoding,
                                    ct2_compute_type=ct2_compute_type))
    replies = replier(backend, decoding, selection)
    checks = {"decoding": decoding.describe(), "backend": backend_name, "persona_probes": persona_probes(replies),
              "repetition": scripted_dialogues(replies)}
    generator = Generator(backend, decoding=decoding, selection=selection)
    checks["conversation"] = asyncio.run(run_conversations(generator))
    if backend_name == "ctranslate2":
        checks["ct2_compute_type"] = ct2_compute_type
    if selection is not None and selection.enabled:
        checks["selection"] = asdict(selection)
    (out or Path(model_dir) / CHECKS_FILE).write_text(json.dumps(checks, ensure_ascii=False, indent=1) + "\n",
                                                      encoding="utf-8")
    return checks


def summary(checks: dict) -> str:
    probes, repetition = checks["persona_probes"], checks["repetition"]
    text = (f"persona probes reflected {probes['reflected']}/{probes['probes']} ({probes['share']:.0%}); "
            f"scripted dialogues: {repetition['repeated_replies']}/{repetition['replies']} replies repeat an earlier one, "
            f"{repetition.get('contradicting_replies', 0)}/{repetition['replies']} contradict the persona or an earlier reply"
            + (f", {repetition['told_again']}/{repetition['replies']} tell again unasked a fact an earlier reply told"
               if "told_again" in repetition else ""))
    if talk := checks.get("conversation"):
        c, m, f, t = talk["consistency"], talk["memory"], talk["farewells"], talk["turn_taking"]
        implied = f", of which implied {c['implied']}/{c['implied_questions']}" if "implied" in c else ""
        text += (f"; consistency {c['consistent']}/{c['questions']} ({c['share']:.0%}){implied}; memory {m['recalled']}/{m['probes']}"
                 f" ({m['share']:.0%}), after /reset {m['recalled_after_reset']}/{m['probes']}; goodbyes answered"
                 f" {f['answered']}/{f['farewells']};{_names_summary(talk)} ask-back {t['ask_back']}/{t['replies']} ({t['ask_back_rate']:.1%});"
                 f" echoes {t['echoes']}")
    return text


def _names_summary(talk: dict) -> str:
    """The checks added later; figures written before them have none."""
    n, own, told = talk.get("names"), talk.get("own_name"), talk.get("responding")
    text = f" names met {n['met']}/{n['names']}, greeted by name after /reset {n['greeted_by_name']}/{n['names']};" if n else ""
    text += f" its own name said {own['named']}/{own['personas']}, the same again {own['kept']}/{own['personas']};" if own else ""
    return text + (f" responds to what the user told {told['responded']}/{told['told']};" if told else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.conversation_checks", description=__doc__.split("\n")[0])
    parser.add_argument("model_dirs", type=Path, nargs="+")
    parser.add_argument("--show", action="store_true", help="print every probe and dialogue turn")
    parser.add_argument("--decoding", choices=DECODING_PRESETS, default=DEFAULT_PRESET,
                        help="decoding preset (training.evaluation.predict; default: the bot's)")
    parser.add_argument("--rerank", type=int, default=0, metavar="N", help="reply selection from N candidates (0: off)")
    parser.add_argument("--rerank-persona-weight", type=float, default=SelectionSettings.persona_weight)
    parser.add_argument("--rerank-repeat-penalty", type=float, default=SelectionSettings.repeat_penalty)
    parser.add_argument("--rerank-consensus-weight", type=float, default=SelectionSettings.consensus_weight)
    parser.add_argument("--backend", choices=sorted(BACKEND_LOADERS), default="transformers",
                        help="the bot's MODEL_BACKEND to check (ctranslate2: converted once beside the model)")
    parser.add_argument("--ct2-compute-type", choices=CT2_COMPUTE_TYPES, default="int8",
                        help="with --backend ctranslate2: the bot's CT2_COMPUTE_TYPE (float32 gives transformers' replies)")
    parser.add_argument("--out", type=Path, help=f"where the figures go (default: MODEL_DIR/{CHECKS_FILE}; one model only)")
    args = parser.parse_args(argv)
    if args.out and len(args.model_dirs) > 1:
        parser.error("--out takes one model directory")
    selection = SelectionSettings(args.rerank, args.rerank_persona_weight, args.rerank_repeat_penalty,
                                  args.rerank_consensus_weight)
    for model_dir in args.model_dirs:
        checks = run_checks(model_dir, decoding_preset(args.decoding), selection=selection, out=args.out,
                            backend_name=args.backend, ct2_compute_type=args.ct2_compute_type)
        if args.show:
            for row in checks["persona_probes"]["rows"]:
                print(f"[{'+' if row['reflected'] else ' '}] {row['question']} -> {row['reply']}")
            for dialogue in checks["repetition"]["dialogues"][:3]:
                print("---", " ".join(dialogue["persona"]))
                for turn in dialogue["turns"]:
                    print(f"  > {turn['user']}\n  {'R' if turn['repeat'] else ' '} {turn['bot']}")
            talk = checks["conversation"]
            for row in talk["consistency"]["rows"]:
                print(f"[{'+' if row['consistent'] else ' '}] {' '.join(row['persona'])} | {row['question']} -> {row['reply']}")
            for row in talk["memory"]["rows"]:
                print(f"[{'+' if row['recalled'] else ' '}{'+' if row['recalled_after_reset'] else ' '}] {row['told']} ..."
                      f" {row['question']} -> {row['reply']} | after /reset: {row['reply_after_reset']}")
            for row in talk["farewells"]["rows"]:
                print(f"[{'+' if row['goodbye'] else ' '}] {row['message']} -> {row['reply']}")
            for row in talk["own_name"]["rows"]:
                print(f"[{'+' if row['named'] else ' '}{'+' if row['kept'] else ' '}] {' '.join(row['persona'])} |"
                      f" Как тебя зовут? -> {row['reply']} | again: {row['reply_again']}")
            for row in talk["responding"]["rows"]:
                print(f"[{'+' if row['responds'] else ' '}] {row['told']} -> {row['reply']}")
            for row in talk["names"]["rows"]:
                print(f"[{'+' if row['met'] else ' '}{'+' if row['greeted_by_name'] else ' '}] {row['told']} -> {row['reply']}"
                      f" | after /reset: Привет! -> {row['greeting_after_reset']}")
        print(f"{model_dir}: {summary(checks)} -> {args.out or model_dir / CHECKS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
