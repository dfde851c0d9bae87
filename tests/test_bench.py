"""``python -m bot.bench`` end to end on the tiny model: every path and level in the table and chart."""

from __future__ import annotations

import pytest

pytest.importorskip("ctranslate2")
pytest.importorskip("matplotlib")

from bot.bench.__main__ import main  # noqa: E402
from bot.bench.paths import PATHS  # noqa: E402


def test_bench_writes_table_and_chart(tiny_model_dir, tmp_path, capsys) -> None:
    out = tmp_path / "docs" / "benchmark"
    args = ["--model-dir", str(tiny_model_dir), "--requests", "3", "--concurrency", "1,2", "--threads", "1"]
    assert main([*args, "--max-new-tokens", "4", "--batch-max-wait-ms", "0", "--out", str(out)]) == 0
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    assert table in capsys.readouterr().out
    rows = [line for line in table.splitlines() if line.startswith("| ") and "@1" not in line]
    for label, _ in PATHS.values():
        [row] = [r for r in rows if r.startswith(f"| {label} |")]
        cells = row.strip("| ").split(" | ")
        assert len(cells) == 8 and all(float(c) > 0 for c in cells[1:])  # p50, p95, 2+2 rates, memory
    assert "replies/s @1 | replies/s @2 | tokens/s @1 | tokens/s @2" in table
    assert table.count("| yes |") + table.count("| NO |") == 3  # every target ratio is reported
    png = out.with_suffix(".png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_workers_side_by_side_are_measured_as_one_machine(tiny_model_dir, tmp_path) -> None:
    """``--workers 2``: two processes, each with its own model, share the clients; one row sums them."""
    out = tmp_path / "workers"
    args = ["--model-dir", str(tiny_model_dir), "--requests", "4", "--concurrency", "2,4", "--threads", "1"]
    assert main([*args, "--workers", "2", "--paths", "ct2", "--max-new-tokens", "4", "--out", str(out)]) == 0
    table = out.with_suffix(".md").read_text(encoding="utf-8")
    [row] = [line for line in table.splitlines() if "2 workers x 1 threads |" in line]
    assert all(float(c) > 0 for c in row.strip("| ").split(" | ")[1:])
    assert "in each of 2 worker processes" in table
    with pytest.raises(SystemExit, match="multiples of the 2 workers"):
        main([*args[:4], "--concurrency", "1,4", "--workers", "2", "--out", str(out)])


def test_bench_rejects_unknown_paths_and_missing_models(tmp_path) -> None:
    with pytest.raises(SystemExit, match="unknown paths"):
        main(["--paths", "naive,warp", "--model-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match="no model at"):
        main(["--model-dir", str(tmp_path / "none"), "--out", str(tmp_path / "b")])


def test_the_header_says_how_the_paths_decode(tiny_model_dir) -> None:
    from bot.bench.__main__ import _header
    from bot.bench.paths import BenchConfig
    from bot.config import DecodingSettings

    greedy = BenchConfig(model_dir=tiny_model_dir, max_new_tokens=7)
    beam = BenchConfig(model_dir=tiny_model_dir, decoding_settings=DecodingSettings(strategy="beam", length_penalty=2.0,
                                                                                   min_new_tokens=10))
    assert greedy.decoding.strategy == "greedy" and greedy.decoding.max_new_tokens == 7
    end = f"min_end_probability={DecodingSettings().min_end_probability}"  # greedy's own setting
    assert f"requests per level, greedy, min_new_tokens=1, {end}, max_new_tokens=7" in "\n".join(_header(greedy, "tiny"))
    assert "beam, num_beams=4, length_penalty=2.0, min_new_tokens=10, max_new_tokens=32" in "\n".join(_header(beam, "tiny"))
