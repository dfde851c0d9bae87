"""The readers and the data set builder on the real data sets in DATA_DIR (they must run in CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.data.dataset import prepare_dataset
from training.data.sources import SOURCES, SkipReport, read_source, resolve_source
from training.data.sources.ru_persona_chat import read_ru_persona_chat

CAP = 3000  # dialogues per source where the whole file is not needed


def test_toloka_parses_whole_with_almost_nothing_skipped(data_dir: Path) -> None:
    report = SkipReport()
    dialogues = list(read_ru_persona_chat(data_dir / "ru_persona_chat" / "dialogues.tsv", report))
    assert report.read["ru_persona_chat"] == 9513
    assert report.skipped_share("ru_persona_chat") < 0.01  # measured: 0 of 9,513
    assert len(dialogues) == 9513 - report.skipped_in("ru_persona_chat")
    for dialogue in dialogues:
        assert len(dialogue.utterances) >= 2 and all(dialogue.utterances)
        assert not any("Пользователь" in u[:15] or "<span" in u or "<br" in u for u in dialogue.utterances)
        assert len(dialogue.personas[0]) >= 3 and len(dialogue.personas[1]) >= 3
    # The first published dialogue: participant_2 opens, so persona 0 is the second profile.
    assert dialogues[0].utterances[0] == "Привет) расскажи о себе"
    assert dialogues[0].personas[0][0] == "Ищу принца." and dialogues[0].personas[1][0] == "У меня любимая работа."


@pytest.mark.parametrize("name", [n for n in SOURCES if n not in ("ru_persona_chat", "flibusta", "personachat")])
def test_every_available_source_yields_records(data_dir: Path, name: str) -> None:
    report = SkipReport()
    dialogues = list(read_source(name, data_dir, report, max_dialogues=CAP))
    assert len(dialogues) >= min(CAP, 250)
    assert all(d.source == name and len(d.utterances) >= 2 and all(d.utterances) for d in dialogues)
    assert len({d.dialogue_id for d in dialogues}) == len(dialogues)
    assert report.skipped_share(name) < 0.02


def test_english_hypotheses_read_the_synthetic_stand_in_here(data_dir: Path) -> None:
    expected = "personachat" if (data_dir / SOURCES["personachat"].files[0].path).is_file() else "synthetic_persona_chat"
    assert resolve_source("personachat", data_dir) == expected


def test_russian_splits_share_the_test_set_and_never_share_a_dialogue(data_dir: Path, tmp_path: Path) -> None:
    options = dict(cache_dir=tmp_path, max_dialogues_per_source=CAP)
    built = {name: prepare_dataset(name, data_dir, **options) for name in ("h3", "h4", "h5")}
    tests = [dataset["test"] for dataset, _ in built.values()]
    assert len(tests[0]) > 500 and tests[0]["dialogue_id"] == tests[1]["dialogue_id"] == tests[2]["dialogue_id"]
    assert tests[0].to_list() == tests[1].to_list() == tests[2].to_list()
    for dataset, _ in built.values():
        ids = {split: set(dataset[split]["dialogue_id"]) for split in dataset}
        assert not ids["train"] & ids["validation"] and not (ids["train"] | ids["validation"]) & ids["test"]
    h4 = built["h4"][0]["train"]
    # Both roles: every training dialogue of h4 has replies of both speakers, all in train.
    speakers = {}
    for row in h4.select_columns(["dialogue_id", "context"]):
        speakers.setdefault(row["dialogue_id"], set()).add(len(row["context"]) % 2)
    assert all(s == {0, 1} for s in speakers.values())
    summary = built["h5"][1]
    assert {"ru_persona_chat", "cornell", "anekdots", "rubq", "danetqa", "parus"} <= set(summary.samples["train"])
