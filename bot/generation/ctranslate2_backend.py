"""A CTranslate2 backend (extra ``fast``): the same replies interface, int8 CPU inference.

The transformers model directory is converted once and cached beside it, in
``<model_dir>/ctranslate2-<compute_type>/``; if the model directory is read-only, in
``$CTRANSLATE2_CACHE_DIR`` (default ``~/.cache/persona-bot/ctranslate2``). A stamp file in
the cache names the source weights' id (a hash of their contents) and the quantization:
when the weights change, the next load converts again.

Seq2Seq models (``godel``/``concat`` formats) run on a ``Translator``; CausalLM adapters over a registered
base (``adapted.py``) are converted merged and with their trimmed vocabulary, and run on a ``Generator``
that stops at EOS or a line break. Contrastive search does not
exist in CTranslate2: asking for it is an error at load time (``ModelLoadError``) and per
request (``GenerationError``), never a silent change of decoding.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bot.config import CT2_COMPUTE_TYPES, DecodingSettings
from bot.generation.adapted import is_adapter_dir, load_adapted, load_adapted_tokenizer
from bot.generation.backends import (
    IGNORE,
    _check_local_dir,
    _local_model_id,
    kept_out,
    scored_replies,
    stop_token_ids,
)
from bot.generation.errors import GenerationError, ModelLoadError
from bot.generation.reply_end import end_probabilities
from bot.generation.earlier_replies import TokenWords, WordGrams, repeats_earlier
from dialogue.format import FormatSpec

log = logging.getLogger(__name__)

STAMP_FILE = "converted_from.json"
KEEP_OUT_ATTEMPTS = 6
"""Engine calls per reply at most to keep the earlier replies' word n-grams out (``_keeping_out``): one more
for each step where greedy would take a banned word."""
CACHE_ENV = "CTRANSLATE2_CACHE_DIR"


@dataclass
class CTranslate2Backend:
    """A converted model run by ``ctranslate2.Translator`` (Seq2Seq) or ``ctranslate2.Generator`` (CausalLM);
    tokenised by the HF tokenizer."""

    engine: Any
    tokenizer: Any
    format: FormatSpec
    model_id: str
    compute_type: str
    stop_tokens: tuple[str, ...] = ()
    """CausalLM: the tokens that end a reply (EOS and line breaks, as ``backends.stop_token_ids``)."""

    @classmethod
    def load(
        cls,
        model_path: str,
        *,
        compute_type: str = "int8",
        threads: int = 0,
        decoding: DecodingSettings | None = None,
    ) -> CTranslate2Backend:
        """Convert (once) and load a local model directory; ``threads=0`` lets CTranslate2 choose."""
        if compute_type not in CT2_COMPUTE_TYPES:
            raise ModelLoadError(f"CTranslate2 compute type must be one of {', '.join(CT2_COMPUTE_TYPES)}, "
                                 f"got {compute_type!r}")
        if decoding is not None and decoding.strategy == "contrastive":
            raise ModelLoadError(
                "DECODING_STRATEGY=contrastive is not available with MODEL_BACKEND=ctranslate2; "
                "use greedy, beam or sampling, or MODEL_BACKEND=transformers"
            )
        path = Path(model_path).expanduser()
        if not path.is_dir():
            raise ModelLoadError(f"MODEL_BACKEND=ctranslate2 needs a local model directory; {path} is not one")
        spec = _check_local_dir(path)
        if spec.is_causal and not is_adapter_dir(path):
            raise ModelLoadError(f"model {path}: MODEL_BACKEND=ctranslate2 serves CausalLM formats ({spec.name!r}) "
                                 "only for adapters over a registered base; use MODEL_BACKEND=transformers")
        source_id = _local_model_id(path)
        try:
            import ctranslate2
            from transformers.utils.logging import disable_progress_bar

            disable_progress_bar()  # the converter loads the model with transformers
            converted, tokenizer = ensure_converted(path, source_id, compute_type)
            engine_class = ctranslate2.Generator if spec.is_causal else ctranslate2.Translator
            engine = engine_class(str(converted), device="cpu", compute_type=compute_type, inter_threads=1,
                                  intra_threads=threads)
        except ImportError as exc:
            raise ModelLoadError(f"MODEL_BACKEND=ctranslate2 needs the 'fast' extra (pip install .[fast]): {exc}") from exc
        except ModelLoadError:
            raise
        except Exception as exc:  # conversion and loading raise many kinds of errors
            raise ModelLoadError(f"model {path}: CTranslate2 conversion or loading failed: {exc}") from exc
        stops: tuple[str, ...] = ()
        if spec.is_causal:
            tokenizer.padding_side = tokenizer.truncation_side = "left"  # the prompt's end is what the reply follows
            stops = tuple(tokenizer.convert_ids_to_tokens(stop_token_ids(tokenizer, tokenizer.eos_token_id)))
        return cls(engine, tokenizer, spec, f"{source_id}+ct2-{compute_type}", compute_type, stops)

    @cached_property
    def token_words(self) -> TokenWords:
        """The tokenizer's tokens as parts of words, for the earlier-reply ban (built at its first use)."""
        return TokenWords(self.tokenizer)

    def generate(self, inputs: list[str], decoding: DecodingSettings, earlier: Sequence[Sequence[str]] | None = None,
                 *, persona: Sequence[Sequence[str]] | None = None, per_input: int = 1,
                 keep_out: Sequence[WordGrams] | None = None) -> list[str]:
        """As ``TransformersBackend.generate``; ``earlier`` (the bot's earlier replies per request) and ``keep_out``
        are kept out by ``_keeping_out``, one engine call per row that has any (a CausalLM's rows run one at a time
        anyway)."""
        encoded = self.tokenizer(inputs, truncation=True, max_length=self.format.max_source_tokens)["input_ids"]
        tokens = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded]
        options = {**decoding_options(self, decoding), "num_hypotheses": per_input}
        banned = kept_out(len(inputs), decoding, earlier, persona, keep_out)
        full = kept_out(len(inputs), decoding, earlier, None, keep_out) if persona and earlier else banned
        if any(full):
            generated = []
            for i, row in enumerate(tokens):
                results = self._keeping_out(row, banned[i], options)
                if full[i] != banned[i] and any(repeats_earlier(self._text(result), earlier[i]) for result in results):
                    results = self._keeping_out(row, full[i], options)  # as transformers: the full ban
                generated += results
        else:
            generated = self.run_tokens(tokens, options)
        return [self._text(reply) for reply in generated]

    def _text(self, reply: list[str]) -> str:
        return self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(reply), skip_special_tokens=True).strip()

    def _keeping_out(self, row: list[str], grams: WordGrams, options: dict[str, Any]) -> list[list[str]]:
        """The engine on one row with the word n-grams ``grams`` banned as ``NoRepeatOfEarlier`` bans them.

        CTranslate2 has no logits processors; its ``suppress_sequences`` suppresses a sequence's last token
        after the others, matched against the tokens generated so far. So each result is read again step by
        step (``TokenWords.banned``), and where it took a banned token the row is generated again with every
        token banned there suppressed after the reply's tokens up to that step: greedy's earlier steps stay
        as they were, and each round goes on where the last one went wrong, as transformers does in one pass.
        A sequence of one token (a banned first word) is suppressed anywhere in the reply, not only first.
        At most ``KEEP_OUT_ATTEMPTS`` engine calls; a reply that still takes a banned word then (sampling, or
        int8 kernels whose earlier steps differ between calls) ends before that word, so the rule always holds."""
        lengths = sorted({len(context) for context in grams})
        suppress: list[list[str]] = []
        for _ in range(KEEP_OUT_ATTEMPTS):
            generated = self.run_tokens([row], {**options, "suppress_sequences": suppress or None})
            found = [self._first_banned(reply, grams, lengths) for reply in generated]
            if all(step is None for step, _ in found):
                return generated
            new = [s for _, sequences in found for s in sequences if s not in suppress]
            if not new:
                break
            suppress += new
        kept = []
        for reply, (step, _) in zip(generated, found):
            cut = self._before_word_at(reply, step) if step is not None else reply
            kept.append(cut if self._text(cut) else reply)
        log.warning("a banned word was still taken after %d engine calls: the reply ends before it", KEEP_OUT_ATTEMPTS)
        return kept

    def _first_banned(self, reply: list[str], grams: WordGrams, lengths: list[int]) -> tuple[int | None, list[list[str]]]:
        """Where ``reply`` (tokens) first took a token the ban forbids, and each forbidden token there after the
        reply's tokens before it; ``(None, [])`` if it took none."""
        ids = self.tokenizer.convert_tokens_to_ids(reply)
        for step, token in enumerate(ids):
            banned = self.token_words.banned(self.tokenizer.decode(ids[:step], skip_special_tokens=True), grams, lengths)
            if token in banned:
                return step, [[*reply[:step], forbidden] for forbidden in self.tokenizer.convert_ids_to_tokens(sorted(banned))]
        return None, []

    def _before_word_at(self, reply: list[str], step: int) -> list[str]:
        """``reply`` up to ``step``, without the beginning of a word that the token at ``step`` would go on with."""
        while step > 0:
            before, after = self._text(reply[:step]), self._text(reply[: step + 1])
            if not (before[-1:].isalnum() and after[len(before) : len(before) + 1].isalnum()):
                break
            step -= 1
        return reply[:step]

    def run_tokens(self, tokens: list[list[str]], options: dict[str, Any]) -> list[list[str]]:
        """The engine on tokenised inputs: ``num_hypotheses`` replies (as tokens) per input, grouped by input.
        Greedy with a ``min_end_probability`` goes on where the end was too unlikely (``_ending_when_likely``)."""
        options = dict(options)
        if end_probability := options.pop("min_end_probability", 0):
            return self._ending_when_likely(tokens, options, end_probability)
        return [sequence for result in self._run(tokens, options) for sequence in self._sequences(result)]

    def _run(self, tokens: list[list[str]], options: dict[str, Any]) -> list[Any]:
        if self.format.is_causal:  # the end token is not in the result (return_end_token is off)
            # One row per engine batch: in a left-padded batch CTranslate2 4.8 gives Gemma 3 slightly different
            # replies than alone (and than transformers); batching gained little on 2 cores (docs/model_recipe.md).
            return self.engine.generate_batch(tokens, max_batch_size=1, **options)
        return self.engine.translate_batch(tokens, **options)

    def _sequences(self, result: Any) -> list[list[str]]:
        return result.sequences if self.format.is_causal else result.hypotheses

    def _ending_when_likely(self, tokens: list[list[str]], options: dict[str, Any], probability: float) -> list[list[str]]:
        """Greedy where the reply ends only if its end is at least ``probability`` likely (``reply_end``).

        CTranslate2 has no logits processors, but it returns each step's logits: where greedy picked the end
        and it was too unlikely, the row is generated again with the end forbidden up to that step. Greedy's
        earlier steps did not pick the end, so forbidding it there changes nothing, and each round goes on
        where the last one stopped too early, as transformers' ``EndOnlyWhenLikely`` does in one pass."""
        causal = self.format.is_causal
        min_key, cap = ("min_length", options["max_length"]) if causal else ("min_decoding_length",
                                                                          options["max_decoding_length"])
        ends = torch.tensor(self.tokenizer.convert_tokens_to_ids(list(self.stop_tokens)) if causal
                            else [self.tokenizer.eos_token_id])
        options = {**options, "return_logits_vocab": True}
        replies = []
        for row, result in zip(tokens, self._run(tokens, options)):
            while True:
                reply = self._sequences(result)[0]
                if len(reply) >= cap:  # the cap reached: no end step to judge
                    break
                end_step = torch.as_tensor(np.asarray(result.logits[0][-1])).unsqueeze(0)
                if end_probabilities(end_step, ends).item() >= probability:  # an end likely enough: it stands
                    break
                result = self._run([row], {**options, min_key: len(reply) + 1})[0]
            replies.append(reply)
        return replies

    def log_likelihoods(self, inputs: list[str], replies: list[str]) -> list[float]:
        """As ``TransformersBackend.log_likelihoods``, by the engine's ``score_batch``."""
        rows = scored_replies(self.tokenizer, self.format, inputs, replies)
        as_tokens = self.tokenizer.convert_ids_to_tokens
        if self.format.is_causal:  # log_probs[i] is the probability of token i + 1 given the ones before
            # One row per engine batch: CTranslate2 4.8 fails on padded Gemma 3 batches ("Length mask has size …
            # which is different than the current batch size"); rows of one length, or one at a time, score right.
            results = self.engine.score_batch([as_tokens(ids) for ids, _ in rows], max_batch_size=1)
            scored = [sum(1 for label in labels if label != IGNORE) for _, labels in rows]
            return [sum(r.log_probs[-n:]) / n for r, n in zip(results, scored)]
        # The Translator adds the end token to the target itself: the reply's own ids without it.
        results = self.engine.score_batch([as_tokens(ids) for ids, _ in rows], [as_tokens(labels[:-1]) for _, labels in rows])
        return [sum(r.log_probs) / len(r.log_probs) for r in results]


def decoding_options(backend: CTranslate2Backend, decoding: DecodingSettings) -> dict[str, Any]:
    """``DecodingSettings`` -> ``translate_batch`` / ``generate_batch`` keyword arguments for ``backend``."""
    options = translate_options(decoding, backend.format)
    if not backend.format.is_causal:
        return options
    options["max_length"] = options.pop("max_decoding_length")
    options["min_length"] = options.pop("min_decoding_length")
    return {**options, "include_prompt_in_result": False, "end_token": list(backend.stop_tokens)}


def translate_options(decoding: DecodingSettings, spec: FormatSpec) -> dict[str, Any]:
    """``DecodingSettings`` -> ``Translator.translate_batch`` keyword arguments."""
    options: dict[str, Any] = {
        "max_decoding_length": decoding.max_new_tokens or spec.max_target_tokens,
        "min_decoding_length": decoding.min_tokens,  # the reply's end (EOS or a line break) cannot come earlier
        "no_repeat_ngram_size": decoding.no_repeat_ngram_size,
        "repetition_penalty": decoding.repetition_penalty,
    }
    if decoding.strategy == "greedy":
        return {**options, "beam_size": 1, "min_end_probability": decoding.min_end_probability}  # run_tokens' own
    if decoding.strategy == "beam":
        return {**options, "beam_size": decoding.num_beams, "length_penalty": decoding.length_penalty}
    if decoding.strategy == "sampling":
        return {
            **options,
            "beam_size": 1,
            "sampling_topk": decoding.top_k,
            "sampling_topp": decoding.top_p,
            "sampling_temperature": decoding.temperature,
        }
    raise GenerationError(f"decoding strategy {decoding.strategy!r} is not available with CTranslate2")


def ensure_converted(model_dir: Path, source_id: str, compute_type: str) -> tuple[Path, Any]:
    """The cached conversion of ``model_dir`` and the tokenizer that goes with it; converts when missing or
    made from other weights. Adapters over a base are converted as the bot serves them: merged, trimmed."""
    target = cache_dir(model_dir, source_id, compute_type)
    stamp = {"source": source_id, "quantization": compute_type}
    from transformers import AutoTokenizer

    adapters = is_adapter_dir(model_dir)
    # Adapters: their base's tokenizer only. The base itself is loaded and merged only to convert it.
    tokenizer = load_adapted_tokenizer(model_dir) if adapters else AutoTokenizer.from_pretrained(str(model_dir))
    if _read_stamp(target) == stamp:
        return target, tokenizer
    from ctranslate2.converters import TransformersConverter

    log.info("converting %s to CTranslate2 (%s) in %s", model_dir, compute_type, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert beside the target and swap it in: a crash mid-way never leaves a half cache.
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        out = work / "model"
        if not adapters:
            TransformersConverter(str(model_dir)).convert(str(out), quantization=compute_type)
        else:  # the merged, trimmed model written out for the converter, with the trimmed vocabulary
            merged = work / "merged"
            load_adapted(model_dir)[0].save_pretrained(merged)
            _TokenizerGiven(str(merged), tokenizer).convert(str(out), quantization=compute_type)
        (out / STAMP_FILE).write_text(json.dumps(stamp) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target, tokenizer


def _TokenizerGiven(model_dir: str, tokenizer: Any) -> Any:
    """A ``TransformersConverter`` that takes ``tokenizer`` (a trimmed vocabulary) instead of loading one."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):  # noqa: ANN001, ANN003
            return tokenizer

    return Converter(model_dir)


def cache_dir(model_dir: Path, source_id: str, compute_type: str) -> Path:
    """Beside the weights if the model directory is writable, else in the user's cache."""
    if os.access(model_dir, os.W_OK):
        return model_dir / f"ctranslate2-{compute_type}"
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "persona-bot" / "ctranslate2").expanduser()
    return root / f"{source_id.replace('@', '-')}-{compute_type}"


def _read_stamp(target: Path) -> dict[str, str] | None:
    try:
        return json.loads((target / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
