"""Hypothesis -> ``datasets.DatasetDict`` of samples, cached on disk; samples -> model input text.

``python -m training.data ru_mix`` builds (or loads from the cache) the data set of a hypothesis or
experiment and prints its summary and the length quantiles of its train split.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time
import hashlib
import json
import random
import shutil
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import datasets
from tqdm.auto import tqdm

from dialogue import FormatSpec, tokenizer_truncator, whitespace_truncator
from training.data.summary import DataSummary
from training.data.hypotheses import HYPOTHESES, Hypothesis, build_samples, mix_samples
from training.data.records import Sample
from training.data.sources import SOURCES, SkipReport, SourceUnavailable, read_source, resolve_source
from training.data.splits import SPLITS, SplitPlan

DATA_VERSION = 2
"""Part of the cache key: bump it when readers or builders change what they produce."""

FEATURES = datasets.Features({
    "persona": datasets.List(datasets.Value("string")),
    "context": datasets.List(datasets.Value("string")),
    "reply": datasets.Value("string"),
    "source": datasets.Value("string"),
    "dialogue_id": datasets.Value("string"),
    "partner": datasets.List(datasets.Value("string")),
})


def resolve_hypothesis(name: str | Hypothesis) -> Hypothesis:
    """A hypothesis by its name (``h5``) or by the name of an experiment that uses it (``ru_mix``)."""
    if isinstance(name, Hypothesis):
        return name
    if name in HYPOTHESES:
        return HYPOTHESES[name]
    from training.experiments.registry import EXPERIMENTS  # the experiment registry owns the aliases

    if name in EXPERIMENTS:
        return HYPOTHESES[EXPERIMENTS[name].hypothesis]
    raise KeyError(f"unknown hypothesis or experiment {name!r}; known: {sorted(HYPOTHESES)} and {sorted(EXPERIMENTS)}")


def prepare_dataset(
    hypothesis: str | Hypothesis, data_dir: Path, *, cache_dir: Path | None = None, seed: int = 0,
    max_dialogues_per_source: int | None = None, validation_fraction: float = 0.05, test_fraction: float = 0.05,
    held_out_profiles: float = 0.0,
) -> tuple[datasets.DatasetDict, DataSummary]:
    """The data set of ``hypothesis`` and its summary, from the cache when it was built before."""
    hypothesis, data_dir = resolve_hypothesis(hypothesis), Path(data_dir)
    plan = SplitPlan(seed, validation_fraction, test_fraction, held_out_profiles)
    used = {name: resolve_source(name, data_dir) for name in hypothesis.sources}
    key = _cache_key(hypothesis, plan, used, data_dir, max_dialogues_per_source)
    target = Path(cache_dir) / f"{hypothesis.name}-{key}" if cache_dir is not None else None
    if target is not None and target.is_dir():
        return datasets.load_from_disk(str(target)), DataSummary.load(target)
    dataset, summary = _build(hypothesis, data_dir, plan, used, max_dialogues_per_source)
    if target is not None:
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        dataset.save_to_disk(str(partial))
        summary.path = str(target)
        summary.save(partial)
        partial.rename(target)  # a half-written cache entry is never taken for a finished one
        dataset = datasets.load_from_disk(str(target))
    return dataset, summary


def load_dataset_dict(hypothesis: str | Hypothesis, data_dir: Path, *, verbose: bool = True, **options: Any) -> datasets.DatasetDict:
    """Splits ``train``, ``validation``, ``test`` with columns persona, context, reply, source, dialogue_id.

    ``options`` are those of ``prepare_dataset``; the summary is printed when ``verbose``.
    """
    dataset, summary = prepare_dataset(hypothesis, data_dir, **options)
    if verbose:
        print(summary.format())
    return dataset


def _build(hypothesis: Hypothesis, data_dir: Path, plan: SplitPlan, used: dict[str, str],
           max_dialogues: int | None) -> tuple[datasets.DatasetDict, DataSummary]:
    report = SkipReport()
    summary = DataSummary(hypothesis.name, plan.seed, sources=used)
    samples: dict[str, dict[str, list[Sample]]] = {split: {} for split in SPLITS}
    # The test split shares one definition across a language: held-out main-source dialogues, one side.
    test_view = replace(hypothesis, both_sides=False)
    for name, source in used.items():
        try:
            dialogues = read_source(source, data_dir, report, max_dialogues=max_dialogues)
            parts = plan.split(tqdm(dialogues, desc=f"read {source}", unit=" dialogues"))
        except SourceUnavailable as exc:
            if name == hypothesis.main_source:
                raise
            summary.missing[name] = str(exc)
            continue
        if name != hypothesis.main_source:  # other sources never enter the shared test split
            parts["train"] += parts.pop("test")
        for split, part in parts.items():
            summary.dialogues.setdefault(split, {})[name] = len(part)
            samples[split][name] = list(build_samples(test_view if split == "test" else hypothesis, part))
    rows = {
        "train": mix_samples(hypothesis, samples["train"], seed=plan.seed),
        "validation": mix_samples(hypothesis, samples["validation"], seed=plan.seed + 1),
        "test": samples["test"].get(hypothesis.main_source, []),
    }
    summary.samples = {split: dict(Counter(s.source for s in part)) for split, part in rows.items()}
    summary.rows_read, summary.skipped = dict(report.read), report.as_rows()
    dataset = datasets.DatasetDict({split: _to_dataset(part) for split, part in rows.items()})
    return dataset, summary


def _to_dataset(samples: list[Sample]) -> datasets.Dataset:
    columns = {name: [getattr(s, name) for s in samples] for name in FEATURES}
    return datasets.Dataset.from_dict(columns, features=FEATURES)


def _cache_key(hypothesis: Hypothesis, plan: SplitPlan, used: dict[str, str], data_dir: Path,
               max_dialogues: int | None) -> str:
    files = []
    for source in used.values():
        for data_file in SOURCES[source].files:
            path = data_dir / data_file.path
            if path.is_file():
                stat = path.stat()
                files.append((data_file.path, stat.st_size, stat.st_mtime_ns))
    fields = {f.name: getattr(hypothesis, f.name) for f in dataclasses.fields(hypothesis) if f.name != "description"}
    split = {name: value for name, value in asdict(plan).items() if value or name != "held_out_profiles"}  # keys as before
    payload = [DATA_VERSION, {**fields, "sources": dict(hypothesis.sources)}, split, max_dialogues, files]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def to_model_inputs(dataset: datasets.DatasetDict | datasets.Dataset, spec: FormatSpec, hypothesis: Hypothesis,
                    tokenizer: Any | None, *, seed: int, augment: bool | None = None) -> Any:
    """Adds ``source_text`` / ``target_text`` built by ``spec`` (the one definition of the format).

    The hypothesis' shuffles are applied to the train split of a DatasetDict only (for a single Dataset:
    when ``augment``), with a ``random.Random(seed + row index)`` per row so they are reproducible.
    """
    if isinstance(dataset, datasets.DatasetDict):
        return datasets.DatasetDict({
            name: to_model_inputs(split, spec, hypothesis, tokenizer, seed=seed, augment=name == "train")
            for name, split in dataset.items()
        })
    truncate = functools.lru_cache(maxsize=1 << 17)(
        tokenizer_truncator(tokenizer) if tokenizer is not None else whitespace_truncator
    )  # context utterances repeat across a dialogue's samples: truncate each once
    shuffle_persona = bool(augment) and hypothesis.shuffle_persona
    shuffle_history = bool(augment) and hypothesis.shuffle_history

    def render(batch: dict[str, list], indices: list[int]) -> dict[str, list[str]]:
        partners = batch["partner"] if "partner" in batch else [()] * len(indices)
        sources = [
            spec.build_input(persona, context, truncate=truncate, shuffle_persona=shuffle_persona,
                             shuffle_history=shuffle_history, rng=random.Random(seed + index), partner=partner)
            for persona, context, index, partner in zip(batch["persona"], batch["context"], indices, partners)
        ]
        return {"source_text": sources, "target_text": [spec.build_target(r, truncate=truncate) for r in batch["reply"]]}

    return dataset.map(render, batched=True, with_indices=True, desc="model inputs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.data", description=__doc__.splitlines()[0])
    parser.add_argument("hypothesis", help=f"a hypothesis ({', '.join(HYPOTHESES)}) or an experiment name (ru_mix, ...)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", "../shared/data")),
                        help="the raw data sets (default: $DATA_DIR, else ../shared/data)")
    parser.add_argument("--cache-dir", type=Path, default=Path("cache/datasets"), help="default: ./cache/datasets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-dialogues-per-source", type=int, default=None)
    parser.add_argument("--tokenizer", type=Path, default=None,
                        help="a tokenizer directory for the length quantiles (default: whitespace words)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        dataset, summary = prepare_dataset(args.hypothesis, args.data_dir, cache_dir=args.cache_dir, seed=args.seed,
                                           max_dialogues_per_source=args.max_dialogues_per_source)
    except (KeyError, OSError, ValueError) as exc:  # missing files, wrong formats, unknown names
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tokenizer = None
    if args.tokenizer is not None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(args.tokenizer))
    print(summary.format())
    from training.data.limits import measure_limits

    limits = measure_limits(dataset["train"], tokenizer)
    print(f"length quantiles of the train split ({limits['unit']}, q={limits['quantile']}): "
          f"fact {limits['max_fact_tokens']} over {limits['facts']} facts, "
          f"utterance {limits['max_utterance_tokens']} over {limits['utterances']} utterances")
    print(f"done in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
