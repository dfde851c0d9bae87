"""A tiny scratch experiment end to end: CLI -> checkpoints -> model dir -> evaluation -> the bot's generator.

Data: a small Toloka TSV in its real format (built here), a few dialogues repeated so that a
tiny model learns them within 30 steps at a high learning rate.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.generation import Generator, TransformersBackend
from dialogue.format import FormatSpec
from training.evaluation import compare, evaluate
from training.evaluation.metrics import mean_f1
from training import run
from training.data.features import IGNORE_INDEX, encoder
from training.data.responses import ignores_the_message
from training.evaluation.predict import GREEDY

PERSONAS = {
    "ru": [("У меня есть собака.", "Я люблю кофе.", "Я работаю врачом."),
           ("Я живу в Москве.", "Я играю на гитаре.", "Я не ем мясо.")],
    "en": [("I have a dog.", "I love coffee.", "I work as a doctor."),
           ("I live in London.", "I play the guitar.", "I do not eat meat.")],
}
LINES = {
    "ru": [("Привет! Как дела?", "Привет, хорошо. Я пью кофе."), ("Чем ты занимаешься?", "Я работаю врачом в больнице."),
           ("У тебя есть животные?", "Да, у меня есть собака.")],
    "en": [("Hi! How are you?", "Hi, fine. I am drinking coffee."), ("What do you do?", "I work as a doctor."),
           ("Do you have pets?", "Yes, I have a dog.")],
}
TINY = [
    "scratch.d_model=32", "scratch.num_layers=2", "scratch.num_heads=2", "scratch.d_ff=64", "scratch.vocab_size=300",
    "batch_size=8", "learning_rate=1e-2", "optimizer=adamw", "warmup=0", "eval_steps=15", "logging_steps=5",
    "max_source_tokens=128", "max_target_tokens=24",
]


def _profile(participant: int, facts: tuple[str, ...]) -> str:
    return f"<span class=participant_{participant}>" + "".join(f"{f}<br />" for f in facts) + "</span>"


def _exchanges(number: int, language: str) -> list[tuple[str, str]]:
    return LINES[language][number % 2 :]  # dialogues of 2 and 3 exchanges


def write_toloka_tsv(path: Path, dialogues: int = 60) -> None:
    """``dialogues.tsv`` as Toloka publishes it: HTML spans, "Пользователь N:" prefixes, tab separated."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["persona_1_profile", "persona_2_profile", "dialogue"])
        for number in range(dialogues):
            turns = "".join(
                f"<span class=participant_2>Пользователь 2: {question}</span><br />"
                f"<span class=participant_1>Пользователь 1: {answer}</span><br />"
                for question, answer in _exchanges(number, "ru")
            )
            writer.writerow([_profile(1, PERSONAS["ru"][0]), _profile(2, PERSONAS["ru"][1]), turns])


def write_synthetic_persona_chat_csv(path: Path, dialogues: int = 60) -> None:
    """Synthetic-Persona-Chat's CSV: facts one per line, "User N: text" lines (PersonaChat's stand-in)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user 1 personas", "user 2 personas", "Best Generated Conversation"])
        for number in range(dialogues):
            turns = "\n".join(f"User 2: {q}\nUser 1: {a}" for q, a in _exchanges(number, "en"))
            writer.writerow(["\n".join(PERSONAS["en"][0]), "\n".join(PERSONAS["en"][1]), turns])


# A Seq2Seq (GODEL format, Russian) and a CausalLM (concat format, English) experiment.
CASES = {"ru_persona": "ru", "en_h1_causal": "en"}


@pytest.fixture(scope="module", params=sorted(CASES))
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    experiment = request.param
    root = tmp_path_factory.mktemp(experiment)
    data_dir = root / "data"
    if CASES[experiment] == "ru":
        write_toloka_tsv(data_dir / "ru_persona_chat" / "dialogues.tsv")
    else:
        write_synthetic_persona_chat_csv(data_dir / "synthetic_persona_chat" / "Synthetic-Persona-Chat_valid.csv")
    out = root / "run"
    argv = [experiment, "--base-model", "scratch", "--max-steps", "30", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--torch-threads", "1"]
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0
    return experiment, data_dir, out


def test_run_writes_checkpoints_and_a_servable_model_dir(trained: tuple[str, Path, Path]) -> None:
    experiment, _, out = trained
    checkpoint = out / "checkpoints" / "checkpoint-30"
    model_dir = out / "model"
    for directory in (checkpoint, model_dir):
        for name in ("model.safetensors", "config.json", "tokenizer.json", "dialogue_format.json", "experiment.json"):
            assert (directory / name).is_file(), directory / name
    assert (checkpoint / "optimizer.pt").is_file()
    spec = FormatSpec.load(model_dir)
    assert spec.name == ("godel" if experiment == "ru_persona" else "concat_causal")
    assert spec.extra["experiment"] == experiment
    assert spec.max_fact_tokens and spec.max_utterance_tokens
    assert json.loads((model_dir / "experiment.json").read_text())["scratch"]["d_model"] == 32
    assert "## Retraining" in (model_dir / "README.md").read_text()


def test_loss_goes_down(trained: tuple[str, Path, Path]) -> None:
    log = json.loads((trained[2] / "model" / "trainer_log.json").read_text())
    losses = [entry["loss"] for entry in log if "loss" in entry]
    assert len(losses) >= 5
    assert losses[-1] < 0.5 * losses[0]
    assert any("eval_loss" in entry for entry in log)


def test_evaluate_writes_metrics_report_and_curve(trained: tuple[str, Path, Path]) -> None:
    experiment, data_dir, out = trained
    model_dir = out / "model"
    replies = out / "replies.jsonl"
    assert evaluate.main([str(model_dir), "--data-dir", str(data_dir), "--limit", "6", "--batch-size", "4",
                          "--replies", str(replies)]) == 0
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["examples"] >= 1
    rows = [json.loads(line) for line in replies.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == metrics["examples"] and all(row["context"] and row["reference"] for row in rows)
    assert metrics["f1"] == pytest.approx(mean_f1([r["reply"] for r in rows], [r["reference"] for r in rows],
                                                  CASES[experiment]))
    assert 1.0 < metrics["perplexity"] < 300  # the vocabulary is ~300 tokens: a trained model beats uniform
    assert metrics["context_gain"] > 0  # each tiny dialogue's reply depends on its question
    assert 0.0 <= metrics["f1"] <= 1.0 and 0.0 <= metrics["chrf"] <= 100.0
    assert "| unigram F1 |" in (model_dir / "report.md").read_text()
    assert (model_dir / "loss_curve.png").stat().st_size > 1000
    assert "## Metrics" in (model_dir / "README.md").read_text() and "perplexity" in (model_dir / "README.md").read_text()

    baseline_dir = out / "retrieval"
    argv = ["--baseline", "retrieval", "--experiment", experiment, "--data-dir", str(data_dir),
            "--output-dir", str(baseline_dir)]
    assert evaluate.main(argv) == 0
    # the test dialogues repeat train ones, so the nearest context's reply is the reference itself
    assert json.loads((baseline_dir / "metrics.json").read_text())["f1"] == pytest.approx(1.0)
    table = compare.compare_table({"model": metrics, "retrieval": json.loads((baseline_dir / "metrics.json").read_text())})
    assert table.splitlines()[0] == "| metric | model | retrieval |"


async def test_the_bot_generator_serves_the_result(trained: tuple[str, Path, Path]) -> None:
    experiment, _, out = trained
    language = CASES[experiment]
    backend = TransformersBackend.load(str(out / "model"), torch_threads=1)
    async with Generator(backend) as generator:
        # greedy: a sampled reply of a 30-step model may be empty (EmptyReply), a flaky test
        result = await generator.generate(PERSONAS[language][0], [LINES[language][0][0]], decoding=GREEDY)
    assert result.text.strip()


def test_resume_needs_the_flag(trained: tuple[str, Path, Path]) -> None:
    experiment, data_dir, out = trained
    with pytest.raises(SystemExit, match="--resume"):
        run.main([experiment, "--base-model", "scratch", "--data-dir", str(data_dir), "--output-dir", str(out)])


def test_evaluate_rejects_a_directory_that_is_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluate.main([str(tmp_path)]) == 2
    assert "experiment.json is missing" in capsys.readouterr().err


def test_causal_labels_mask_the_prompt() -> None:
    from tests.tiny_model import CORPUS, VOCAB_SIZE
    from training.models.scratch import train_tokenizer

    tokenizer = train_tokenizer(CORPUS, VOCAB_SIZE, causal=True)
    spec = FormatSpec(name="concat_causal", max_source_tokens=8, max_target_tokens=4)
    batch = encoder(tokenizer, spec)({"source_text": ["[PERSONA] Я люблю читать книги [DIALOGUE] Привет EOS "],
                                      "target_text": ["Хорошо, спасибо. А у тебя?"]})
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    assert len(ids) == len(labels) and ids[-1] == tokenizer.eos_token_id
    prompt = labels.count(IGNORE_INDEX)
    assert prompt == 8  # cut to max_source_tokens, keeping its end
    assert labels[prompt:] == ids[prompt:] and len(ids) - prompt == 4  # reply cut to 3 tokens + EOS
    assert tokenizer.decode(ids[:prompt]).rstrip().endswith("EOS")


def test_resume_continues_from_the_last_checkpoint(trained: tuple[str, Path, Path]) -> None:
    """Last in this file: it trains the fixture's run further."""
    experiment, data_dir, out = trained
    argv = [experiment, "--base-model", "scratch", "--max-steps", "35", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--torch-threads", "1", "--resume"]
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0
    log = json.loads((out / "model" / "trainer_log.json").read_text())
    steps = [entry["step"] for entry in log if "loss" in entry]
    assert steps[0] == 1 and steps[-1] == 35  # the history of the first 30 steps came with the checkpoint
    assert (out / "checkpoints" / "checkpoint-35").is_dir()


def test_training_continues_a_half_precision_model(tiny_model_dir: Path, tmp_path: Path) -> None:
    """``--base-model`` may be a trained model directory, such as the shipped one (float16 on disk)."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSeq2SeqLM

    stage_one = tmp_path / "shipped"
    AutoModelForSeq2SeqLM.from_pretrained(tiny_model_dir).half().save_pretrained(stage_one)
    for name in ("tokenizer.json", "tokenizer_config.json", "dialogue_format.json"):
        (stage_one / name).write_bytes((tiny_model_dir / name).read_bytes())
    data_dir, out = tmp_path / "data", tmp_path / "run"
    write_toloka_tsv(data_dir / "ru_persona_chat" / "dialogues.tsv")
    settings = ["batch_size=8", "eval_steps=5", "logging_steps=1", "decoder_input_dropout=0.3", "context_margin=0.5",
                "max_source_tokens=128", "max_target_tokens=24", "optimizer=adafactor_scaled", "learning_rate=1e-2"]
    argv = ["ru_persona_both", "--base-model", str(stage_one), "--max-steps", "5", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--torch-threads", "1"]
    assert run.main(argv + [x for pair in settings for x in ("--set", pair)]) == 0
    before, after = load_file(stage_one / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    assert {w.dtype for w in after.values()} == {torch.float32}  # trained in float32, not in half precision
    assert any(not torch.equal(before[k].float(), after[k]) for k in before)
    saved = json.loads((out / "model" / "experiment.json").read_text())
    assert (saved["decoder_input_dropout"], saved["context_margin"]) == (0.3, 0.5)
    # adafactor_scaled: T5's parameter-relative Adafactor at the configured rate, driven by the Trainer's schedule
    groups = torch.load(out / "checkpoints" / "checkpoint-5" / "optimizer.pt", weights_only=False)["param_groups"]
    assert {(g["scale_parameter"], g["relative_step"], g["initial_lr"]) for g in groups} == {(True, False, 1e-2)}


def test_stop_at_step_ends_a_run_partway_through_its_schedule(tmp_path: Path) -> None:
    """Arms are compared at one point of one schedule: step 4 of 10, the learning rate still that of 10 steps."""
    data_dir, out = tmp_path / "data", tmp_path / "run"
    write_toloka_tsv(data_dir / "ru_persona_chat" / "dialogues.tsv", dialogues=20)
    argv = ["ru_persona", "--base-model", "scratch", "--max-steps", "10", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--torch-threads", "1", "--set", "stop_at_step=4", "--set", "logging_steps=1"]
    assert run.main(argv + [x for pair in TINY if not pair.startswith("logging") for x in ("--set", pair)]) == 0
    log = json.loads((out / "model" / "trainer_log.json").read_text())
    rates = {entry["step"]: entry["learning_rate"] for entry in log if "loss" in entry}
    assert max(rates) == 4 and (out / "checkpoints" / "checkpoint-4").is_dir()
    assert rates[4] == pytest.approx(1e-2 * (10 - 3) / 10, rel=0.05)  # linear decay over 10 steps, not 4
    assert any(entry.get("step") == 4 and "eval_loss" in entry for entry in log)
    assert run.main(argv[:-4] + ["--set", "stop_at_step=11"]) == 2  # past the schedule: refused before any work


def test_decoder_input_dropout_is_refused_for_a_causal_model_at_once(tmp_path: Path) -> None:
    argv = ["en_h1_causal", "--base-model", "scratch", "--data-dir", str(tmp_path / "no-data"),
            "--output-dir", str(tmp_path / "run"), "--set", "decoder_input_dropout=0.3"]
    with pytest.raises(SystemExit, match="for Seq2Seq models"):
        run.main(argv)


def test_a_denoising_stage_first_then_the_dialogue_stage_from_its_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pretrain``: one command trains the earlier stage into ``pretrain/`` and starts from its model."""
    import dataclasses

    from training.experiments import registry as experiments
    from training.experiments.overrides import apply_overrides

    denoise = dataclasses.replace(experiments.EXPERIMENTS["ru_mix_cpu"], objective="denoise", denoise_rate=0.3,
                                  optimizer="adafactor", learning_rate=3e-3)
    tiny_stage = apply_overrides(denoise, TINY + ["max_steps=20", "precision=fp32"])
    monkeypatch.setitem(experiments.EXPERIMENTS, "tiny_denoise", dataclasses.replace(tiny_stage, name="tiny_denoise",
                                                                                 hypothesis="h4"))
    data_dir, out = tmp_path / "data", tmp_path / "run"
    write_toloka_tsv(data_dir / "ru_persona_chat" / "dialogues.tsv")
    argv = ["ru_persona_both", "--set", "base_model=scratch", "--set", "pretrain=tiny_denoise", "--max-steps", "20",
            "--data-dir", str(data_dir), "--output-dir", str(out), "--torch-threads", "1"]
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0

    stage_model = out / "pretrain" / "model"
    stage = json.loads((stage_model / "experiment.json").read_text())
    assert (stage["name"], stage["objective"]) == ("tiny_denoise", "denoise")
    stage_log = json.loads((stage_model / "trainer_log.json").read_text())
    losses = [entry["loss"] for entry in stage_log if "loss" in entry]
    assert losses[-1] < 0.5 * losses[0]  # rebuilding the input's last utterance is learnt
    final = json.loads((out / "model" / "experiment.json").read_text())
    assert (final["objective"], final["pretrain"], final["base_model"]) == ("reply", "tiny_denoise", str(stage_model))
    # the dialogue stage kept the stage's tokenizer and started from its weights
    assert (out / "model" / "tokenizer.json").read_text() == (stage_model / "tokenizer.json").read_text()

    # Again: the stage's model is there, so only the dialogue stage runs (into a new output of its own).
    (out / "checkpoints").rename(tmp_path / "old-checkpoints")
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0
    assert json.loads((stage_model / "trainer_log.json").read_text()) == stage_log


def test_a_recipe_of_three_stages_trains_each_from_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stage may have an earlier stage of its own (ru_mix: the mix, the persona chat, its responding replies):
    one command trains the first into ``pretrain/pretrain/``, the second from it into ``pretrain/``, the last."""
    import dataclasses

    from training.experiments import registry as experiments
    from training.experiments.overrides import apply_overrides

    tiny = apply_overrides(experiments.EXPERIMENTS["ru_persona"], TINY + ["base_model=scratch", "precision=fp32"])
    monkeypatch.setitem(experiments.STAGES, "tiny_first", dataclasses.replace(tiny, name="tiny_first"))
    monkeypatch.setitem(experiments.STAGES, "tiny_second", dataclasses.replace(tiny, name="tiny_second",
                                                                               pretrain="tiny_first"))
    data_dir, out = tmp_path / "data", tmp_path / "run"
    write_toloka_tsv(data_dir / "ru_persona_chat" / "dialogues.tsv")
    argv = ["ru_persona", "--set", "base_model=scratch", "--set", "pretrain=tiny_second", "--max-steps", "2",
            "--data-dir", str(data_dir), "--output-dir", str(out), "--torch-threads", "1"]
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0
    printed = capsys.readouterr().out
    assert printed.index("stage tiny_first") < printed.index("stage tiny_second")
    first, second = out / "pretrain" / "pretrain" / "model", out / "pretrain" / "model"
    trained = {name: json.loads((model / "experiment.json").read_text())
               for name, model in (("first", first), ("second", second), ("last", out / "model"))}
    assert (trained["first"]["name"], trained["first"]["base_model"]) == ("tiny_first", "scratch")
    assert (trained["second"]["pretrain"], trained["second"]["base_model"]) == ("tiny_first", str(first))
    assert (trained["last"]["pretrain"], trained["last"]["base_model"]) == ("tiny_second", str(second))


def test_an_unknown_pretrain_stage_fails_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["ru_persona", "--set", "pretrain=no_such_stage", "--data-dir", str(tmp_path), "--output-dir", str(tmp_path)]
    assert run.main(argv) == 2
    assert "unknown experiment 'no_such_stage'" in capsys.readouterr().err


def test_replies_that_give_an_unlisted_name_are_left_out_of_the_train_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from training.data.dataset import prepare_dataset

    data_dir, out = tmp_path / "data", tmp_path / "run"
    tsv = data_dir / "ru_persona_chat" / "dialogues.tsv"
    write_toloka_tsv(tsv)
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("Привет, хорошо.", "Привет, меня зовут Аня.")
                   .replace("Чем ты занимаешься?", "А я люблю читать."), encoding="utf-8")  # a statement, ignored
    data, _ = prepare_dataset("h3", data_dir, seed=42)  # ru_persona's data, as training reads it
    named = sum("меня зовут" in reply for reply in data["train"]["reply"])
    assert 0 < named < len(data["train"])
    unnamed = [row for row in data["train"] if "меня зовут" not in row["reply"]]
    ignoring = sum(ignores_the_message(row["context"], row["reply"]) for row in unnamed)
    assert 0 < ignoring < len(unnamed)

    argv = ["ru_persona", "--base-model", "scratch", "--max-steps", "2", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--torch-threads", "1", "--set", "drop_invented_names=true",
            "--set", "drop_ignoring_replies=true"]
    assert run.main(argv + [x for pair in TINY for x in ("--set", pair)]) == 0
    printed = capsys.readouterr().out
    assert f"left out {named} train replies that give the speaker a name" in printed
    assert f"left out {ignoring} train replies that ignore the statement they answer" in printed
    experiment = json.loads((out / "model" / "experiment.json").read_text())
    assert experiment["drop_invented_names"] is True and experiment["drop_ignoring_replies"] is True


def test_a_reply_ignores_a_statement_unless_it_takes_it_up_asks_or_reacts() -> None:
    told = ["Привет!", "У меня есть кот, он очень толстый."]
    assert ignores_the_message(told, "А я люблю ездить на дачу.")
    assert ignores_the_message(told, "Я учитель. А ты?")  # a bare question back asks nothing of what was told
    assert ignores_the_message(told, "Как тебя зовут?")  # nor does a getting-to-know question of one's own
    assert ignores_the_message(told, "Я учитель. Чем увлекаешься?")
    assert ignores_the_message(told, "Как дела?")
    assert not ignores_the_message(told, "А сколько он весит?")
    assert not ignores_the_message(told, "Какой породы?")
    assert not ignores_the_message(told, "А у тебя есть собака?")  # on the message's own topic, pets
    assert not ignores_the_message(["Я купил новую машину."], "А какую?")
    assert ignores_the_message(["Я купил новую машину."], "Ты откуда?")
    assert not ignores_the_message(told, "Я тоже люблю котов.")
    assert not ignores_the_message(told, "Ого! А у меня собака.")
    assert not ignores_the_message(["Кем ты работаешь?"], "Я учитель.")  # an answer responds
    assert not ignores_the_message(["Ну всё, мне пора, пока!"], "Пока!")


def test_a_name_is_invented_only_where_the_persona_gives_none() -> None:
    from training.data.names import gives_own_name, invents_a_name

    said = ["Привет, меня зовут Аня", "Меня Аня зовут.", "Зовут меня Оля", "Моё имя Пётр", "My name is Bob"]
    not_said = ["Как тебя зовут?", "Мою кошку зовут Муська", "Я работаю врачом", "А тебя как зовут?"]
    assert [gives_own_name(text) for text in said + not_said] == [True] * len(said) + [False] * len(not_said)
    assert invents_a_name(("Я работаю врачом.",), "Привет, меня зовут Аня")
    assert not invents_a_name(("Меня зовут Аня.", "Я работаю врачом."), "Привет, меня зовут Аня")
    assert not invents_a_name(("Я работаю врачом.",), "Привет, как тебя зовут?")
