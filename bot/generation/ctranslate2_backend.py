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
from bot.generation.backends import IGNORE, _check_local_dir, _local_model_id, scored_replies, stop_token_ids
from bot.generation.earlier_replies import TokenWords, WordGrams
from bot.generation.errors import GenerationError, ModelLoadError
from bot.generation.rules import DecodingRule, apply_rules, ending, first_broken, generate_obeying, must_end
from dialogue.format import FormatSpec

log = logging.getLogger(__name__)

STAMP_FILE = "converted_from.json"
RULE_ATTEMPTS = 6
"""Engine calls per row at most that suppress tokens a rule forbids (``run_tokens``): one more for each step where
greedy took one. Calls that only make an early end wait (a longer minimum length) are bounded by the length cap."""
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
        """Convert (once) and load a local model directory; ``threads=0``: one thread, which serves a lone request
        of a model this small faster than all cores do (docs/benchmark.md): scale with worker processes instead."""
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
                                  intra_threads=threads or 1)
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

    @property
    def end_ids(self) -> tuple[int, ...]:
        """The tokens that end a reply (EOS, and for a CausalLM the line breaks)."""
        if self.format.is_causal:
            return tuple(self.tokenizer.convert_tokens_to_ids(list(self.stop_tokens)))
        return (self.tokenizer.eos_token_id,)

    def generate(self, inputs: list[str], decoding: DecodingSettings, earlier: Sequence[Sequence[str]] | None = None,
                 *, persona: Sequence[Sequence[str]] | None = None, per_input: int = 1,
                 keep_out: Sequence[WordGrams] | None = None, max_sentences: Sequence[int | None] | None = None,
                 openings: Sequence[str] | None = None) -> list[str]:
        """As ``TransformersBackend.generate``; the rules are applied by ``run_tokens``."""
        return generate_obeying(self, inputs, decoding, earlier, persona=persona, per_input=per_input, keep_out=keep_out,
                                max_sentences=max_sentences, openings=openings)

    def generate_under(self, inputs: list[str], decoding: DecodingSettings, rules: Sequence[DecodingRule],
                       per_input: int = 1) -> list[str]:
        """``per_input`` replies per input under ``rules`` (``bot.generation.rules``)."""
        encoded = self.tokenizer(inputs, truncation=True, max_length=self.format.max_source_tokens)["input_ids"]
        tokens = [self.tokenizer.convert_ids_to_tokens(ids) for ids in encoded]
        options = {**decoding_options(self, decoding), "num_hypotheses": per_input}
        return [self._text(reply) for reply in self.run_tokens(tokens, options, rules)]

    def _text(self, reply: list[str]) -> str:
        return self.tokenizer.decode(self.tokenizer.convert_tokens_to_ids(reply), skip_special_tokens=True).strip()

    def run_tokens(self, tokens: list[list[str]], options: dict[str, Any],
                   rules: Sequence[DecodingRule] = ()) -> list[list[str]]:
        """The engine on tokenised inputs under ``rules``: ``num_hypotheses`` replies (as tokens) per input,
        grouped by input.

        CTranslate2 has no logits processors. Each result is read again step by step (``rules.first_broken``;
        the engine returns each step's scores where a rule reads them), and a row that took a forbidden token is
        generated again with that token suppressed after the reply's tokens before it (``suppress_sequences``,
        matched against the tokens generated so far; an end that came too early by a longer minimum length,
        since the reply's earlier steps did not end it). Greedy's earlier steps stay as they were, so each round
        goes on where the last one broke a rule, as transformers does in one pass. At most ``RULE_ATTEMPTS``
        engine calls per row suppress tokens; a reply that still breaks a rule then (sampling, or int8 kernels whose steps
        differ between calls) ends before the word that breaks it, logged.

        CTranslate2 matches a suppressed sequence's leading tokens wherever they end, not only from the reply's start:
        a token banned after a short opening is banned after the same tokens later in the reply too, so there a reply
        may leave out a word that transformers would take (stricter, never looser)."""
        if not rules:
            return [sequence for result in self._run(tokens, options) for sequence in self._sequences(result)]
        if any(rule.needs_scores for rule in rules):
            options = {**options, "return_logits_vocab": True}
        stops = [self._stop_at_broken(rules, request, options) for request in range(len(tokens))]
        if any(stops):  # a callback per row, so one row per engine call
            results = [self._run([row], options, stop)[0] for row, stop in zip(tokens, stops)]
        else:
            results = self._run(tokens, options)
        replies = []
        for request, (row, result) in enumerate(zip(tokens, results)):
            replies += self._obeying(rules, request, row, result, options)
        return replies

    def _stop_at_broken(self, rules: Sequence[DecodingRule], request: int, options: dict[str, Any]) -> Any:
        """An engine callback that stops a greedy or sampled row at the first token the rules forbid or where they
        end the reply, so that the engine does not write what is generated again or cut (``_obeying`` reads the
        result as it reads any other). None where the engine calls no callback (beams) or where stopping one row
        would stop its other hypotheses too."""
        if not self.format.is_causal or options.get("beam_size", 1) != 1 or options.get("num_hypotheses", 1) != 1:
            return None
        scored = any(rule.needs_scores for rule in rules)
        reply: list[int] = []

        def stop(step: Any) -> bool:
            if must_end(rules, request, reply):
                return True
            scores = torch.as_tensor(np.asarray(step.logits))[0].clone() if scored else None
            forbidden = apply_rules(rules, request, reply, scores)
            reply.append(step.token_id)
            return step.token_id in forbidden

        return stop

    def _obeying(self, rules: Sequence[DecodingRule], request: int, row: list[str], result: Any,
                 options: dict[str, Any]) -> list[list[str]]:
        min_key, cap_key = ("min_length", "max_length") if self.format.is_causal else ("min_decoding_length",
                                                                                      "max_decoding_length")
        suppress: list[list[str]] = []
        shortest, calls, token_calls = options[min_key], 1, 1
        end_ids = self.end_ids
        while True:
            sequences = [sequence[:cut] if (cut := self._ending(rules, request, sequence)) else sequence
                         for sequence in self._sequences(result)]
            broken = [self._broken(rules, request, k, sequence, result, options[cap_key], end_ids)
                      for k, sequence in enumerate(sequences)]
            if all(b is None for b in broken):
                return sequences
            before = (len(suppress), shortest)
            for sequence, found in zip(sequences, broken):
                if found is None:
                    continue
                step, forbidden = found
                if step == len(sequence):  # the end came where a rule forbids it: a longer minimum (at most the cap)
                    shortest = max(shortest, step + 1)
                    continue
                for token in self.tokenizer.convert_ids_to_tokens(sorted(forbidden)):
                    if (sequence_ := [*sequence[:step], token]) not in suppress:
                        suppress.append(sequence_)
            if (len(suppress), shortest) == before or (len(suppress) > before[0] and token_calls == RULE_ATTEMPTS):
                break
            token_calls += len(suppress) > before[0]
            calls += 1
            again = {**options, "suppress_sequences": suppress or None, min_key: shortest}
            result = self._run([row], again, self._stop_at_broken(rules, request, again))[0]
        log.warning("a reply still broke a decoding rule after %d engine calls: it ends before the word that breaks it",
                    calls)
        return [sequence if found is None else self._cut_or_greedy(rules, request, row, sequence, found[0], options)
                for sequence, found in zip(sequences, broken)]

    def _cut_or_greedy(self, rules: Sequence[DecodingRule], request: int, row: list[str], sequence: list[str], step: int,
                       options: dict[str, Any]) -> list[str]:
        """``sequence`` ended before the word that breaks a rule at ``step``; where that leaves nothing to send (the
        word is its first, or the break is its end: ``_before`` keeps it whole), a sampled reply is written greedily
        instead (sampling draws every step again in each engine call, so it may break the rule however often it is
        drawn; greedy keeps its earlier steps and converges)."""
        cut = self._before(sequence, step)
        if cut is not sequence or options.get("sampling_topk", 1) == 1:
            return cut
        greedy = {**options, "sampling_topk": 1, "num_hypotheses": 1}
        result = self._run([row], greedy, self._stop_at_broken(rules, request, greedy))[0]
        return self._obeying(rules, request, row, result, greedy)[0]

    def _ending(self, rules: Sequence[DecodingRule], request: int, sequence: list[str]) -> int | None:
        return ending(rules, request, self.tokenizer.convert_tokens_to_ids(sequence))

    def _broken(self, rules: Sequence[DecodingRule], request: int, hypothesis: int, sequence: list[str], result: Any,
                cap: int, end_ids: tuple[int, ...]) -> tuple[int, set[int]] | None:
        logits = getattr(result, "logits", None)
        step_scores = (lambda step: torch.as_tensor(np.asarray(logits[hypothesis][step]))) if logits else None
        ids = self.tokenizer.convert_tokens_to_ids(sequence)
        ended = len(sequence) < cap or must_end(rules, request, ids)
        return first_broken(rules, request, ids, ended, end_ids, step_scores)

    def _before(self, reply: list[str], step: int) -> list[str]:
        """``reply`` up to ``step`` without the beginning of the word that the token at ``step`` goes on with (the
        whole reply where that would leave nothing, or where the step is its end)."""
        cut = step
        while 0 < cut < len(reply):
            before, after = self._text(reply[:cut]), self._text(reply[: cut + 1])
            if not (before[-1:].isalnum() and after[len(before) : len(before) + 1].isalnum()):
                break
            cut -= 1
        return reply[:cut] if self._text(reply[:cut]) else reply

    def _run(self, tokens: list[list[str]], options: dict[str, Any], stop: Any = None) -> list[Any]:
        if self.format.is_causal:  # the end token is not in the result (return_end_token is off)
            # One row per engine batch: in a left-padded batch CTranslate2 4.8 gives Gemma 3 other replies than
            # alone (and than transformers), so batching would change what the bot says (docs/model_recipe.md).
            return self.engine.generate_batch(tokens, max_batch_size=1, callback=stop, **options)
        return self.engine.translate_batch(tokens, **options)

    def _sequences(self, result: Any) -> list[list[str]]:
        return result.sequences if self.format.is_causal else result.hypotheses

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
        return {**options, "beam_size": 1}
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
