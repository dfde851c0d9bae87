"""Each source reader on small files in its real published format, written here."""

from __future__ import annotations

import csv
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from training.data.records import Dialogue
from training.data.sources import SkipReport, SourceUnavailable, read_source, resolve_source
from training.data.sources.base import DataFormatError
from training.data.sources.danetqa import read_danetqa
from training.data.sources.download import DataFile, ensure_file
from training.data.sources.koziev import read_cornell, read_flibusta
from training.data.sources.parus import read_parus
from training.data.sources.personachat import read_personachat
from training.data.sources.ru_persona_chat import read_ru_persona_chat
from training.data.sources.rubq import read_rubq
from training.data.sources.synthetic_persona_chat import read_synthetic_persona_chat


def write_delimited(path: Path, header: list[str], rows: list[list[str]], delimiter: str) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def span(n: int, text: str) -> str:
    return f"<span class=participant_{n}>{text}</span>"


def toloka_row(first_profile: str, second_profile: str, turns: list[tuple[int, str]]) -> list[str]:
    dialogue = "".join(span(n, f"Пользователь {n}: {text}") + "<br />" for n, text in turns)
    return [span(1, first_profile), span(2, second_profile), dialogue]


def test_ru_persona_chat_merges_spans_and_maps_profiles_to_speakers(tmp_path: Path) -> None:
    rows = [
        # participant_2 speaks first: its profile becomes persona 0
        toloka_row("Я врач<br />Люблю кофе<br />", "Я студент<br />",
                   [(2, "Привет!"), (2, "Как дела?"), (1, "Хорошо, <3 кофе<br />\nа ты?"), (2, "Отлично")]),
        ["<span class=participant_1>Я врач", span(2, "Я студент"), span(1, "Пользователь 1: hi")],  # broken HTML
        toloka_row("Я врач", "Я студент", [(1, "Привет"), (1, "Ау?")]),  # one-sided
        ["x", "y", ""],  # no spans at all
    ]
    path = write_delimited(tmp_path / "dialogues.tsv", ["persona_1_profile", "persona_2_profile", "dialogue"], rows, "\t")
    report = SkipReport()
    assert list(read_ru_persona_chat(path, report)) == [
        Dialogue("ru_persona_chat:0", "ru_persona_chat", ("Привет! Как дела?", "Хорошо, <3 кофе а ты?", "Отлично"),
                 {0: ("Я студент",), 1: ("Я врач", "Люблю кофе")}),
    ]
    assert report.read["ru_persona_chat"] == 4
    assert report.skipped == {("ru_persona_chat", "broken profile HTML"): 2, ("ru_persona_chat", "one-sided dialogue"): 1}


def test_a_file_without_the_expected_columns_is_a_clear_error(tmp_path: Path) -> None:
    path = write_delimited(tmp_path / "dialogues.tsv", ["persona_1_profile", "dialog"], [["a", "b"]], "\t")
    with pytest.raises(DataFormatError, match="missing columns.*persona_2_profile"):
        list(read_ru_persona_chat(path, SkipReport()))


def test_personachat_joins_both_sides_of_a_conversation(tmp_path: Path) -> None:
    def entry(persona: list[str], history: list[str], gold: str) -> dict:
        return {"personality": persona, "utterances": [
            {"history": history[:1], "candidates": ["wrong", history[1] if len(history) > 1 else gold]},
            {"history": history, "candidates": ["wrong", gold]},
        ]}

    data = {
        "train": [
            entry(["i like tea ."], ["hi", "hello , i like tea", "cool"], "thanks"),  # persona of speaker 1
            entry(["i am a cat ."], ["__ SILENCE __", "hi", "hello , i like tea"], "cool"),  # speaker 0, shorter
            {"personality": ["x"], "utterances": []},  # malformed
        ],
        "valid": [entry(["i run ."], ["yo", "sup"], "nothing")],
    }
    path = tmp_path / "personachat_self_original.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    report = SkipReport()
    dialogues = list(read_personachat(path, report))
    assert [(d.utterances, d.personas) for d in dialogues] == [
        (("hi", "hello , i like tea", "cool", "thanks"), {1: ("i like tea .",), 0: ("i am a cat .",)}),
        (("yo", "sup", "nothing"), {1: ("i run .",)}),
    ]
    assert len({d.dialogue_id for d in dialogues}) == 2
    assert report.skipped == {("personachat", "malformed dialogue entry"): 1}


def test_synthetic_persona_chat(tmp_path: Path) -> None:
    conversation = "User 2: Hi!\nUser 2: How are you?\nUser 1: Fine.\n(Later)\nUser 2: Bye"
    rows = [["I bake.\nI knit.", "I am a boy.", conversation], ["a", "b", "User 1: alone"]]
    path = write_delimited(tmp_path / "Synthetic-Persona-Chat_valid.csv",
                           ["user 1 personas", "user 2 personas", "Best Generated Conversation"], rows, ",")
    report = SkipReport()
    assert list(read_synthetic_persona_chat(path, report)) == [Dialogue(
        "synthetic_persona_chat:Synthetic-Persona-Chat_valid:0", "synthetic_persona_chat",
        ("Hi! How are you?", "Fine. (Later)", "Bye"), {0: ("I am a boy.",), 1: ("I bake.", "I knit.")}),
    ]
    assert report.skipped == {("synthetic_persona_chat", "one-sided dialogue"): 1}


def write_tar_xz(path: Path, name: str, text: str) -> Path:
    data = text.encode("utf-8")
    with tarfile.open(path, "w:xz") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("reader, source", [(read_cornell, "cornell"), (read_flibusta, "flibusta")])
def test_koziev_dash_dialogues_from_tar_xz(tmp_path: Path, reader, source: str) -> None:
    text = "- Привет.\n- Здравствуй,\nкак дела?\n\n\n\n- Один.\n\n- Раз\n-\n\n- А?\n- Б!\n"
    path = write_tar_xz(tmp_path / "d.tar.xz", "dialogues.txt", text)
    report = SkipReport()
    assert [(d.dialogue_id, d.source, d.utterances) for d in reader(path, report)] == [
        (f"{source}:dialogues:0", source, ("Привет.", "Здравствуй, как дела?")),
        (f"{source}:dialogues:3", source, ("А?", "Б!")),
    ]
    assert report.skipped == {(source, "one-sided dialogue"): 1, (source, "empty utterance"): 1}


def test_rubq_2_and_1(tmp_path: Path) -> None:
    v2 = [{"uid": 4, "question_text": "Какой стране принадлежит остров Пасхи?", "answer_text": "Чили",
           "answers": [{"label": "Чили"}]},
          {"uid": 5, "question_text": "Кто?", "answer_text": None, "answers": [{"label": "пушкин"}]},
          {"uid": 6, "question_text": "", "answer_text": "x", "answers": []}]
    v1 = [{"uid": 7, "question_text": "Где?", "answer_text": "в Москве", "answers": [{"type": "uri", "value": "Q1"}]}]
    (tmp_path / "RuBQ_2.0_dev.json").write_text(json.dumps(v2, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "RuBQ_1.0_dev.json").write_text(json.dumps(v1, ensure_ascii=False), encoding="utf-8")
    report = SkipReport()
    got = [*read_rubq(tmp_path / "RuBQ_2.0_dev.json", report), *read_rubq(tmp_path / "RuBQ_1.0_dev.json", report)]
    assert [(d.dialogue_id, d.utterances, d.personas) for d in got] == [
        ("rubq:RuBQ_2.0_dev:4", ("Какой стране принадлежит остров Пасхи?", "Чили"), {}),
        ("rubq:RuBQ_2.0_dev:5", ("Кто?", "Пушкин"), {}),
        ("rubq:RuBQ_1.0_dev:7", ("Где?", "В Москве"), {}),
    ]
    assert report.skipped == {("rubq", "empty question or answer"): 1}
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        list(read_rubq(tmp_path / "bad.json", report))


def test_danetqa_official_jsonl_and_crowd_majority(tmp_path: Path) -> None:
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text("\n".join([
        json.dumps({"question": "есть ли армия в японии", "passage": "Текст  о Японии.", "label": True, "idx": 3}),
        "{broken",
        json.dumps({"question": "q", "passage": "p", "idx": 4}),  # test split: no label
    ]), encoding="utf-8")
    report = SkipReport()
    assert [(d.dialogue_id, d.utterances) for d in read_danetqa(jsonl, report)] == [
        ("danetqa:train:3", ("Есть ли армия в японии? Текст о Японии.", "Да.")),
    ]
    header = ["INPUT:passage", "INPUT:question", "OUTPUT:result", "HINT:text", "ASSIGNMENT:worker_id"]
    votes = [["P1", "вопрос один", v, "", "w"] for v in ("false", "false", "true")]
    votes += [["P2", "вопрос два", v, "", "w"] for v in ("true", "false")]  # a tie
    tsv = write_delimited(tmp_path / "assign_DaNetQA.tsv", header, votes, ";")
    assert [(d.dialogue_id, d.utterances) for d in read_danetqa(tsv, report)] == [
        ("danetqa:assign_DaNetQA:0", ("Вопрос один? P1", "Нет.")),
    ]
    assert report.skipped == {("danetqa", "bad JSON line"): 1, ("danetqa", "unlabelled or empty item"): 1,
                              ("danetqa", "tied crowd vote"): 1}


def test_parus_official_jsonl_and_crowd_majority(tmp_path: Path) -> None:
    jsonl = tmp_path / "val.jsonl"
    item = {"premise": "Мальчик упал.", "choice1": "Он заплакал.", "choice2": "Он запел.", "question": "effect",
            "label": 0, "idx": 9}
    jsonl.write_text(json.dumps(item, ensure_ascii=False) + "\n" + json.dumps({**item, "question": "why"}), encoding="utf-8")
    report = SkipReport()
    assert [(d.dialogue_id, d.utterances) for d in read_parus(jsonl, report)] == [
        ("parus:val:9", ("Мальчик упал. Что случилось в результате?", "Он заплакал.")),
    ]
    header = ["INPUT:sent1", "INPUT:sent2", "INPUT:premise", "INPUT:question", "OUTPUT:variant", "HINT:text"]
    rows = [["Он боялся.", "Он помнил роль.", "Сердце билось.", "Что стало причиной этого?", v, ""] for v in "001"]
    tsv = write_delimited(tmp_path / "assign_PARus.tsv", header, rows, ";")
    assert [(d.dialogue_id, d.utterances) for d in read_parus(tsv, report)] == [
        ("parus:assign_PARus:0", ("Сердце билось. Что стало причиной этого?", "Он боялся.")),
    ]
    assert report.skipped == {("parus", "bad JSON line"): 1}


def test_missing_file_is_downloaded_from_its_url(tmp_path: Path) -> None:
    published = tmp_path / "published" / "TlkPersonaChatRus.zip"
    published.parent.mkdir()
    with zipfile.ZipFile(published, "w") as archive:
        archive.writestr("TlkPersonaChatRus/dialogues.tsv", "persona_1_profile\tpersona_2_profile\tdialogue\n")
    data_file = DataFile("ru_persona_chat/dialogues.tsv", published.as_uri(), member="dialogues.tsv")
    path = ensure_file(tmp_path / "data", data_file)
    assert path == tmp_path / "data" / "ru_persona_chat" / "dialogues.tsv"
    assert path.read_text(encoding="utf-8").startswith("persona_1_profile")


def test_missing_file_that_cannot_be_downloaded_names_file_place_and_url(tmp_path: Path) -> None:
    url = (tmp_path / "nowhere.json").as_uri()
    with pytest.raises(SourceUnavailable) as error:
        ensure_file(tmp_path, DataFile("rubq/RuBQ_2.0_dev.json", url))
    assert str(tmp_path / "rubq" / "RuBQ_2.0_dev.json") in str(error.value) and url in str(error.value)
    assert not (tmp_path / "rubq" / "RuBQ_2.0_dev.json").exists()
    with pytest.raises(SourceUnavailable, match="flibusta_dialogues.tar.xz is missing.*github.com/Koziev"):
        list(read_source("flibusta", tmp_path, SkipReport()))


def test_personachat_falls_back_to_synthetic_only_when_absent(tmp_path: Path) -> None:
    (tmp_path / "synthetic_persona_chat").mkdir()
    (tmp_path / "synthetic_persona_chat" / "Synthetic-Persona-Chat_test.csv").write_text("x", encoding="utf-8")
    assert resolve_source("personachat", tmp_path) == "synthetic_persona_chat"
    (tmp_path / "personachat").mkdir()
    (tmp_path / "personachat" / "personachat_self_original.json").write_text("{}", encoding="utf-8")
    assert resolve_source("personachat", tmp_path) == "personachat"
