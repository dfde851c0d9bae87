"""Several models side by side on the very same test rows, and what h4's leakage is worth.

    python -m training.evaluation.arms runs/cpu_h3/model runs/cpu_h4/model runs/cpu_h5/model --limit 300 \
        --out docs/arms.json

Each model replies (as the bot composes replies) to the same rows of the persona chat's test split, and is scored
on all of them and on the *unseen* ones: rows whose two profiles (the replying speaker's and the partner's) occur in
no train dialogue. The persona chat has 1,505 profiles in 9,513 dialogues, so most test dialogues are played by
profiles seen in training; a model that learnt them by heart gains there and not on the unseen rows. A model
trained with the partner's persona (``max_partner_facts``) is scored with it and without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from dialogue.format import clean_text
from training import DEFAULT_DATA_DIR
from training.evaluation import predict
from training.evaluation.compare import compare_table
from training.evaluation.evaluate import LIMIT_SEED, model_decoding, score
from training.evaluation.metrics import unigram_f1
from training.models.checkpoints import load_experiment


def profiles_in(rows) -> set[frozenset[str]]:
    """Every profile (a set of facts) that plays in ``rows``, on either side."""
    return {frozenset(facts) for column in ("persona", "partner") for facts in rows[column] if facts}


def test_rows(model_dir: Path, data_dir: Path, limit: int | None, split: str = "test"):
    """The persona chat's rows of ``split`` of ``model_dir``'s experiment (a fixed random subset of ``limit``), and
    which of them are unseen: neither profile plays in a train dialogue of the persona chat. (With a profile-disjoint
    split, ``held_out_profiles``, every test row is unseen and every validation row seen: the same models on both
    say what having seen a profile is worth.)"""
    from training.data.dataset import load_dataset_dict
    from training.data.hypotheses import HYPOTHESES

    config = load_experiment(model_dir)
    hypothesis = HYPOTHESES[config.hypothesis]
    data = load_dataset_dict(hypothesis, data_dir, verbose=False, **config.data_options())
    test = data[split].filter(lambda source: source == hypothesis.main_source, input_columns="source")
    if limit is not None and limit < len(test):
        test = test.shuffle(seed=LIMIT_SEED).select(range(limit))
    seen = profiles_in(data["train"].filter(lambda source: source == hypothesis.main_source, input_columns="source"))
    unseen = [i for i, (persona, partner) in enumerate(zip(test["persona"], test["partner"]))
              if frozenset(persona) not in seen and frozenset(partner) not in seen]
    return hypothesis, test, unseen


def evaluate_arm(backend, config, test, unseen: list[int], language: str, *, with_partner: bool) -> dict:
    """Replies and scores of one model on all rows and on the unseen ones."""
    from training.data.dataset import to_model_inputs
    from training.data.hypotheses import HYPOTHESES

    rows = test if with_partner else test.map(lambda _: {"partner": []}, desc="without the partner's persona")
    partners = list(rows["partner"])
    replies = predict.replies_to(backend, list(rows["persona"]), list(rows["context"]),
                                 decoding=model_decoding(backend, predict.DEFAULT_PRESET), partners=partners)
    texts = to_model_inputs(rows, backend.format, HYPOTHESES[config.hypothesis], backend.tokenizer, seed=config.seed)
    perplexity = predict.perplexities(backend, texts)[1]
    references = [clean_text(r) for r in rows["reply"]]
    figures = {"all": score(replies, rows, language, word_perplexity=perplexity), "unseen": {"examples": 0},
               "row_f1": [unigram_f1(reply, reference, language) for reply, reference in zip(replies, references)],
               "replies": replies}
    if unseen:
        figures["unseen"] = score([replies[i] for i in unseen], rows.select(unseen), language,
                                  word_perplexity=predict.perplexities(backend, texts.select(unseen))[1])
    return figures


def paired_difference(first: list[float], second: list[float], *, resamples: int = 2000, seed: int = 0) -> dict:
    """Mean of ``first - second`` over the same rows and its 95% bootstrap interval (rows resampled): whether two
    models' F1 differ by more than the test rows' own noise."""
    rng = random.Random(seed)
    deltas = [a - b for a, b in zip(first, second, strict=True)]
    means = sorted(sum(rng.choice(deltas) for _ in deltas) / len(deltas) for _ in range(resamples))
    return {"mean": sum(deltas) / len(deltas), "low": means[int(0.025 * resamples)], "high": means[int(0.975 * resamples) - 1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.evaluation.arms", description=__doc__.splitlines()[0])
    parser.add_argument("model_dirs", nargs="+", type=Path)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--limit", type=int, default=300, help="test rows (a fixed random subset); default 300")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="the rows (validation: held-out dialogues of profiles seen in training)")
    parser.add_argument("--out", type=Path, help="write every figure here as JSON")
    args = parser.parse_args(argv)
    hypothesis, test, unseen = test_rows(args.model_dirs[0], args.data_dir, args.limit, args.split)
    print(f"{len(test)} {args.split} rows, {len(unseen)} of them unseen (neither profile in a train dialogue)")
    results: dict[str, dict] = {}
    for model_dir in args.model_dirs:
        config, backend = load_experiment(model_dir), predict.load_backend(model_dir)
        name = config.name if config.seed == 42 else f"{config.name} (seed {config.seed})"
        while name in results:
            name += "'"
        results[name] = evaluate_arm(backend, config, test, unseen, hypothesis.language, with_partner=True)
        if backend.format.max_partner_facts:
            results[f"{name} without partner"] = evaluate_arm(backend, config, test, unseen, hypothesis.language,
                                                              with_partner=False)
    for part in ("all", "unseen"):
        print(f"\n{part} rows:\n" + compare_table({name: figures[part] for name, figures in results.items()}))
    names = list(results)
    differences = {f"{a} - {b}": paired_difference(results[a]["row_f1"], results[b]["row_f1"])
                   for i, a in enumerate(names) for b in names[i + 1 :]}
    print("\nF1 differences on the same rows (mean, 95% bootstrap interval):")
    for pair, d in differences.items():
        print(f"  {pair}: {d['mean']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"split": args.split, "rows": len(test), "unseen_rows": len(unseen), "results": results,
                                        "f1_differences": differences},
                                       indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
