"""Hypothesis sample builders, mixing, splits, limits and the DatasetDict on small hand-made data."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import datasets
import pytest

from dialogue import FormatSpec
from training.data.dataset import load_dataset_dict, prepare_dataset, to_model_inputs
from training.data.hypotheses import HYPOTHESES, Hypothesis, build_samples, mix_samples
from training.data.limits import measure_limits
from training.data.records import Dialogue, Sample
from training.data.splits import SplitPlan

from tests.test_sources import toloka_row, write_delimited, write_tar_xz

CHAT = Dialogue("ru_persona_chat:0", "ru_persona_chat", ("a", "b", "c", "d"), {0: ("p0",), 1: ("p1", "p1b")})


def test_h3_uses_only_the_second_speaker_with_its_persona() -> None:
    assert list(build_samples(HYPOTHESES["h3"], [CHAT])) == [
        Sample(("p1", "p1b"), ("a",), "b", "ru_persona_chat", "ru_persona_chat:0", ("p0",)),
        Sample(("p1", "p1b"), ("a", "b", "c"), "d", "ru_persona_chat", "ru_persona_chat:0", ("p0",)),
    ]


def test_h4_uses_both_sides_with_roles_swapped_each_with_the_other_as_partner() -> None:
    assert list(build_samples(HYPOTHESES["h4"], [CHAT])) == [
        Sample(("p1", "p1b"), ("a",), "b", "ru_persona_chat", "ru_persona_chat:0", ("p0",)),
        Sample(("p0",), ("a", "b"), "c", "ru_persona_chat", "ru_persona_chat:0", ("p1", "p1b")),
        Sample(("p1", "p1b"), ("a", "b", "c"), "d", "ru_persona_chat", "ru_persona_chat:0", ("p0",)),
    ]


def test_persona_less_sources_give_empty_personas_and_personaless_sides_are_skipped() -> None:
    joke = Dialogue("anekdots:x:0", "anekdots", ("q", "r", "s"))
    assert [(s.persona, s.reply) for s in build_samples(HYPOTHESES["h5"], [joke])] == [((), "r"), ((), "s")]
    one_side = Dialogue("personachat:k", "personachat", ("a", "b", "c"), {0: ("mine",)})
    assert list(build_samples(HYPOTHESES["h1"], [one_side])) == []  # speaker 1 has no persona here


def test_hypotheses_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown sources"):
        Hypothesis("x", "ru", {"nope": 1.0}, "godel", False, False, False, "")
    with pytest.raises(ValueError, match="unknown format"):
        Hypothesis("x", "ru", {"rubq": 1.0}, "gpt", False, False, False, "")
    assert HYPOTHESES["h1"].format_name == "concat" and HYPOTHESES["h1_causal"].format_name == "concat_causal"
    assert HYPOTHESES["h1_2"].shuffle_history and not HYPOTHESES["h2_1"].shuffle_history


def _samples(source: str, n: int) -> list[Sample]:
    return [Sample((), ("q",), f"{source}{i}", source, f"{source}:{i}") for i in range(n)]


def test_h5_mix_follows_the_weights_reproducibly() -> None:
    h5 = HYPOTHESES["h5"]
    pools = {name: _samples(name, 5000) for name in h5.sources}
    pools["ru_persona_chat"] = _samples("ru_persona_chat", 2000)
    pools["parus"] = _samples("parus", 10)  # smaller than its share: used whole, never copied
    mixed = mix_samples(h5, pools, seed=3)
    counts = Counter(s.source for s in mixed)
    assert counts["ru_persona_chat"] == 2000 and counts["parus"] == 10
    for name in ("cornell", "anekdots", "flibusta", "rubq", "danetqa"):
        assert counts[name] == round(h5.sources[name] / h5.sources["ru_persona_chat"] * 2000)
    assert len(set(mixed)) == len(mixed)
    assert mix_samples(h5, pools, seed=3) == mixed and mix_samples(h5, pools, seed=4) != mixed


def test_splits_are_deterministic_hash_based_and_stable_when_data_grows() -> None:
    plan = SplitPlan(seed=0, validation_fraction=0.1, test_fraction=0.1)
    ids = [f"d:{i}" for i in range(2000)]
    first = {i: plan.split_of(i) for i in ids}
    more = {i: plan.split_of(i) for i in [*ids, *(f"new:{i}" for i in range(500))]}
    assert all(more[i] == first[i] for i in ids)
    shares = Counter(first.values())
    assert 150 < shares["test"] < 250 and 150 < shares["validation"] < 250
    assert {i: SplitPlan(seed=1, validation_fraction=0.1, test_fraction=0.1).split_of(i) for i in ids} != first
    with pytest.raises(ValueError):
        SplitPlan(validation_fraction=0.6, test_fraction=0.5)


def test_a_profile_disjoint_split_tests_on_profiles_never_trained_on() -> None:
    """Profiles repeat across dialogues; held out, no test dialogue shares a profile with a train dialogue, a
    dialogue between a held-out profile and another is left out, and dialogues without personas split as before."""
    rng = random.Random(0)
    profiles = [(f"факт {n}", f"ещё {n}") for n in range(300)]
    dialogues = [Dialogue(f"chat:{i}", "ru_persona_chat", ("a", "b"), dict(enumerate(rng.sample(profiles, 2))))
                 for i in range(3000)]
    plain = [Dialogue(f"joke:{i}", "anekdots", ("a", "b")) for i in range(500)]
    plan = SplitPlan(seed=0, validation_fraction=0.05, test_fraction=0.05, held_out_profiles=0.2)
    parts = plan.split([*dialogues, *plain])
    kept = [d for part in parts.values() for d in part if d.personas]
    trained = {facts for d in parts["train"] + parts["validation"] for facts in d.personas.values()}
    tested = {facts for d in parts["test"] for facts in d.personas.values()}
    assert parts["test"] and not trained & tested and all(plan.held_out(facts) for facts in tested)
    assert 0.02 < len(parts["test"]) / len(dialogues) < 0.07  # both profiles held out: about 0.2 ** 2
    assert 0.55 < len(kept) / len(dialogues) < 0.75  # the rest of the dialogues with one held-out profile are left out
    assert {d.dialogue_id: name for name, part in parts.items() for d in part if not d.personas} == {
        d.dialogue_id: plan.split_of(d.dialogue_id) for d in plain}
    with pytest.raises(ValueError):
        SplitPlan(held_out_profiles=1.0)


def test_measure_limits_counts_each_fact_and_utterance_once() -> None:
    rows = [Sample(("один два", "три"), ("a b c",), "d", "s", "x"), Sample(("один два", "три"), ("a b c", "d"), "e f", "s", "x")]
    split = datasets.Dataset.from_list([asdict(r) for r in rows])
    limits = measure_limits(split, None, quantile=1.0)
    assert (limits["max_fact_tokens"], limits["max_utterance_tokens"]) == (2, 3)
    assert (limits["facts"], limits["utterances"]) == (2, 3)


def _toy_data_dir(root: Path) -> Path:
    (root / "ru_persona_chat").mkdir(parents=True)
    rows = [toloka_row(f"Факт {i}<br />Ещё {i}<br />Третий {i}", f"Другой {i}",
                       [(1, f"привет {i}"), (2, f"здравствуй {i}"), (1, f"как ты {i}"), (2, f"хорошо {i}")])
            for i in range(60)]
    write_delimited(root / "ru_persona_chat" / "dialogues.tsv", ["persona_1_profile", "persona_2_profile", "dialogue"], rows, "\t")
    (root / "koziev").mkdir()
    jokes = "\n\n".join(f"- шутка {i}\n- ответ {i}" for i in range(80))
    write_tar_xz(root / "koziev" / "cornell_movie_corpus.tar.xz", "cornell_movie_corpus.txt", jokes)
    return root


def test_dataset_dict_shares_the_test_split_and_keeps_dialogues_in_one_split(tmp_path: Path) -> None:
    data_dir = _toy_data_dir(tmp_path / "data")
    options = dict(cache_dir=tmp_path / "cache", validation_fraction=0.2, test_fraction=0.2)
    h3 = load_dataset_dict("h3", data_dir, verbose=False, **options)
    h4 = load_dataset_dict("ru_persona_both", data_dir, verbose=False, **options)
    h5, summary = prepare_dataset("ru_mix_seq2seq", data_dir, **options)
    assert set(h5) == {"train", "validation", "test"} and summary.path
    assert h3["test"].to_list() == h4["test"].to_list() == h5["test"].to_list()
    assert set(h5["test"]["source"]) == {"ru_persona_chat"}
    assert set(summary.missing) == {"anekdots", "flibusta", "rubq", "danetqa", "parus"}
    for dataset in (h3, h4, h5):
        owners = {split: set(dataset[split]["dialogue_id"]) for split in dataset}
        assert not owners["train"] & owners["validation"] and not owners["train"] & owners["test"]
        assert not owners["validation"] & owners["test"]
    assert len(h4["train"]) == 3 * len(h3["train"]) / 2  # 4 utterances: speaker 1 replies twice, speaker 0 once
    again, cached = prepare_dataset("h5", data_dir, **options)
    assert cached.path == summary.path and again["train"].to_list() == h5["train"].to_list()
    assert "cornell" in summary.format() and "MISSING flibusta" in summary.format()


def test_model_inputs_shuffle_train_only_and_reproducibly(tmp_path: Path) -> None:
    data_dir = _toy_data_dir(tmp_path / "data")
    dataset = load_dataset_dict("h4", data_dir, verbose=False, validation_fraction=0.2, test_fraction=0.2)
    shuffling = Hypothesis("t", "ru", {"ru_persona_chat": 1.0}, "concat_causal", True, True, True, "")
    spec = FormatSpec(name="concat_causal", max_history_turns=None)
    first = to_model_inputs(dataset, spec, shuffling, None, seed=7)
    assert first["train"]["source_text"] == to_model_inputs(dataset, spec, shuffling, None, seed=7)["train"]["source_text"]
    assert first["train"]["source_text"] != to_model_inputs(dataset, spec, shuffling, None, seed=8)["train"]["source_text"]
    row = dataset["validation"][0]
    assert first["validation"][0]["source_text"] == spec.build_input(row["persona"], row["context"])
    assert first["validation"]["target_text"] == dataset["validation"]["reply"]
    train_row, rendered = dataset["train"][5], first["train"][5]["source_text"]
    assert rendered == spec.build_input(train_row["persona"], train_row["context"], shuffle_persona=True,
                                        shuffle_history=True, rng=random.Random(7 + 5))
