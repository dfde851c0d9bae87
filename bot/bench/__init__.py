"""``python -m bot.bench``: how fast the generator is, measured against the naive way and CTranslate2.

Every path runs in its own fresh process (clean peak memory, its own thread settings) on the
same checkpoint, the same fixed prompts and the same greedy decoding. See docs/benchmark.md.
"""
