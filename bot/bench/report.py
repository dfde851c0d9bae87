"""The benchmark's Markdown table, target ratios and PNG chart."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.bench.results import PathResult

TARGETS = (
    # (description, numerator path, denominator path, what is compared, the limit, "min" or "max")
    ("micro-batched ÷ naive throughput at the highest concurrency", "batched", "naive", "throughput", 3.0, "min"),
    ("CTranslate2 ÷ naive fp32 single-request latency (p50)", "ct2", "naive", "latency", 0.5, "max"),
    ("serving path ÷ raw CTranslate2 single-request latency (p50)", "ct2", "ct2_raw", "latency", 1.2, "max"),
)


NOTES = """\
How to read it: every path serves the same fixed Russian persona prompts (built with the model's
FormatSpec, `bot/bench/prompts.py`), greedy, in its own fresh process. *naive* is the original
project's way: one fp32 `model.generate` per request, one at a time. The *Generator* paths are the
bot's real micro-batching `Generator` with that many concurrent asyncio clients (closed loop: each
sends its next request when its reply arrives). *raw engine call* calls CTranslate2 (translate_batch or generate_batch) directly on
pre-tokenised inputs, in the batches the Generator would form; the served CTranslate2 path adds
input building, tokenising, queueing and the worker thread. Tokens are counted by re-tokenising the
replies. Peak RSS is the process's high-water mark (VmHWM): interpreter and libraries included.
"""


def markdown(results: Sequence[PathResult], header: Sequence[str]) -> str:
    levels = sorted(results[0].levels)
    columns = ["path", "p50 ms", "p95 ms"]
    columns += [f"replies/s @{c}" for c in levels] + [f"tokens/s @{c}" for c in levels] + ["peak RSS MB"]
    lines = [*header, "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for result in results:
        single = result.single
        cells = [result.label, f"{single.percentile_ms(50):.1f}", f"{single.percentile_ms(95):.1f}"]
        cells += [f"{result.levels[c].replies_per_s:.1f}" for c in levels]
        cells += [f"{result.levels[c].tokens_per_s:.0f}" for c in levels]
        cells.append(f"{result.peak_rss_mb:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| target | ratio | limit | met |", "|---|---|---|---|"]
    for description, ratio, limit, kind in target_ratios(results):
        met = ratio >= limit if kind == "min" else ratio <= limit
        sign = "≥" if kind == "min" else "≤"
        lines.append(f"| {description} | {ratio:.2f} | {sign} {limit:g} | {'yes' if met else 'NO'} |")
    return "\n".join([*lines, "", NOTES])


def target_ratios(results: Sequence[PathResult]) -> list[tuple[str, float, float, str]]:
    by_name = {r.name: r for r in results}
    ratios = []
    for description, top, bottom, what, limit, kind in TARGETS:
        if top not in by_name or bottom not in by_name:
            continue
        if what == "throughput":
            level = max(by_name[top].levels)
            ratio = by_name[top].levels[level].replies_per_s / by_name[bottom].levels[level].replies_per_s
        else:
            ratio = by_name[top].single.percentile_ms(50) / by_name[bottom].single.percentile_ms(50)
        ratios.append((description, ratio, limit, kind))
    return ratios


def chart(results: Sequence[PathResult], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(results[0].levels)
    figure, (throughput, latency, memory) = plt.subplots(1, 3, figsize=(15, 4.8))
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        xs = [j + i * width for j in range(len(levels))]
        throughput.bar(xs, [result.levels[c].replies_per_s for c in levels], width, label=result.label)
    throughput.set_xticks([j + 0.4 - width / 2 for j in range(len(levels))], [str(c) for c in levels])
    throughput.set(xlabel="concurrent requests", ylabel="replies / s", title="Throughput")
    names = [r.name for r in results]
    p50 = [r.single.percentile_ms(50) for r in results]
    p95 = [r.single.percentile_ms(95) for r in results]
    latency.bar(names, p50, label="p50")
    latency.scatter(names, p95, color="black", marker="_", s=400, label="p95", zorder=3)
    latency.set(ylabel="ms", title="Single-request latency")
    latency.legend()
    memory.bar(names, [r.peak_rss_mb for r in results], color="gray")
    memory.set(ylabel="MB", title="Peak RSS")
    for axis in (latency, memory):
        axis.tick_params(axis="x", labelrotation=30)
    figure.legend(*throughput.get_legend_handles_labels(), loc="lower center", ncol=len(results), fontsize="small")
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.08, 1, 0.95))
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
