"""Model backends: the one thing that turns a batch of model inputs into replies.

A backend is synchronous and not thread-safe; the ``Generator`` calls it from its single
worker thread only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import torch
from transformers import LogitsProcessorList

from bot.config import DecodingSettings
from bot.generation.adapted import ADAPTER_CONFIG, KEPT_TOKENS_FILE, is_adapter_dir, load_adapted
from bot.generation.base_models import BASE_FILE
from bot.generation.contrastive import contrastive_search
from bot.generation.errors import ModelLoadError
from bot.generation.hub import offline_unless_reachable
from bot.generation.earlier_replies import TokenWords, WordGrams
from bot.generation.reply_only import reply_only
from bot.generation.rules import DecodingRule, RulesProcessor, generate_obeying
from dialogue.format import FORMAT_FILE, FormatSpec, tokenizer_truncator

WEIGHT_SUFFIXES = (".safetensors", ".bin")

ID_FILES = ("config.json", ADAPTER_CONFIG, BASE_FILE, KEPT_TOKENS_FILE)
"""Besides the weights, what makes a served model what it is (hashed into its id)."""


class Backend(Protocol):
    model_id: str
    """Stable id of the served weights, stored with every reply."""
    format: FormatSpec
    tokenizer: Any
    """Used by the dialogue format to truncate persona facts and utterances by tokens."""

    def generate(self, inputs: list[str], decoding: DecodingSettings, earlier: Sequence[Sequence[str]] | None = None,
                 *, persona: Sequence[Sequence[str]] | None = None, per_input: int = 1,
                 keep_out: Sequence[WordGrams] | None = None, max_sentences: Sequence[int | None] | None = None,
                 openings: Sequence[str] | None = None) -> list[str]:
        """``per_input`` replies per input, grouped by input, in order (whitespace-stripped; may be empty;
        more than one needs sampling or a beam at least that wide), under every decoding rule
        (``bot.generation.rules``, built by ``generate_obeying``). ``earlier``: per input, the bot's own earlier
        replies in that dialogue, which the reply must not repeat (``KeepOutWords``); ``persona``: per input, the
        facts whose words the reply may use again though an earlier reply used them; ``keep_out``: per input,
        more word n-grams the reply may not hold (``QUESTION_BACK``); ``max_sentences``: per input, how many
        sentences the reply may say (``SentenceLimit``; None: no limit); ``openings``: per input, what the reply
        says before the model's words (the opening at the input's end; ``SaysAWord``)."""
        ...

    def generate_under(self, inputs: list[str], decoding: DecodingSettings, rules: Sequence[DecodingRule],
                       per_input: int = 1) -> list[str]:
        """``per_input`` replies per input that obey ``rules``: the backend's one adapter of the rules."""
        ...

    def log_likelihoods(self, inputs: list[str], replies: list[str]) -> list[float]:
        """For each (input, reply): the mean log-probability per token of the reply and its end, as
        trained (``FormatSpec.build_target``); used to score candidates (``bot.generation.selection``)."""
        ...


@dataclass
class TransformersBackend:
    """A transformers Seq2Seq or CausalLM model on CPU (or wherever torch puts it)."""

    model: Any
    tokenizer: Any
    format: FormatSpec
    model_id: str

    @classmethod
    def load(cls, model_path: str, *, torch_threads: int = 0) -> TransformersBackend:
        """Load a local model directory or, if ``model_path`` is not a local path, a hub id."""
        if torch_threads > 0:  # 0 keeps torch's default (all cores)
            torch.set_num_threads(torch_threads)
        path = Path(model_path).expanduser()
        if path.is_dir():
            spec, model_id = _check_local_dir(path), _local_model_id(path)
        elif _looks_local(model_path):
            raise ModelLoadError(f"model directory {path} does not exist (MODEL_PATH)")
        else:
            spec, model_id = _hub_format(model_path), model_path
        source = str(path) if path.is_dir() else model_path
        try:
            from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
            from transformers.utils.logging import disable_progress_bar

            disable_progress_bar()  # a bar per start-up is noise in the console chat and the bot's logs

            if path.is_dir() and is_adapter_dir(path):  # LoRA adapters over a base named in base_model.json
                model, tokenizer = load_adapted(path)
                config = model.config
            else:
                config = AutoConfig.from_pretrained(source)
                model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
                # transformers 5 loads in the checkpoint's dtype by default ("auto"): fp16 weights shipped to
                # save space would run in half precision, slow and lossy on CPU. Always compute in float32.
                model = model_class.from_pretrained(source, config=config, dtype=torch.float32).eval()
                tokenizer = AutoTokenizer.from_pretrained(source)
        except ModelLoadError:
            raise
        except Exception as exc:  # transformers raises OSError/ValueError/safetensors errors alike
            raise ModelLoadError(f"model {source}: weights or tokenizer failed to load: {exc}") from exc
        if spec.is_causal == bool(config.is_encoder_decoder):
            kind = "an encoder-decoder" if config.is_encoder_decoder else "a causal"
            raise ModelLoadError(f"model {source}: {FORMAT_FILE} says {spec.name!r} but the weights are {kind} model")
        if spec.is_causal:
            # The reply continues the end of the prompt: pad and truncate on the left.
            tokenizer.padding_side = tokenizer.truncation_side = "left"
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        if spec.is_causal:
            model.generation_config.eos_token_id = stop_token_ids(tokenizer, model.generation_config.eos_token_id)
        return cls(model=model, tokenizer=tokenizer, format=spec, model_id=model_id)

    @cached_property
    def token_words(self) -> TokenWords:
        """The tokenizer's tokens as parts of words, for the earlier-reply ban (built at its first use)."""
        return TokenWords(self.tokenizer)

    @property
    def end_ids(self) -> tuple[int, ...]:
        """The tokens that end a reply (EOS, and for a CausalLM the line breaks)."""
        ids = self.model.generation_config.eos_token_id
        return (ids,) if isinstance(ids, int) else tuple(ids)

    def generate(self, inputs: list[str], decoding: DecodingSettings, earlier: Sequence[Sequence[str]] | None = None,
                 *, persona: Sequence[Sequence[str]] | None = None, per_input: int = 1,
                 keep_out: Sequence[WordGrams] | None = None, max_sentences: Sequence[int | None] | None = None,
                 openings: Sequence[str] | None = None) -> list[str]:
        return generate_obeying(self, inputs, decoding, earlier, persona=persona, per_input=per_input, keep_out=keep_out,
                                max_sentences=max_sentences, openings=openings)

    def generate_under(self, inputs: list[str], decoding: DecodingSettings, rules: Sequence[DecodingRule],
                       per_input: int = 1) -> list[str]:
        """``per_input`` replies per input under ``rules`` (``bot.generation.rules``), applied as one logits processor."""
        kwargs: dict[str, Any] = decoding.to_generate_kwargs()
        if per_input > 1:
            kwargs["num_return_sequences"] = per_input
        # DecodingSettings (MAX_NEW_TOKENS) wins: operators tune reply length without retraining.
        # The format's training cap is only the fallback when the settings leave it unset.
        if kwargs.get("max_new_tokens") is None:
            kwargs["max_new_tokens"] = self.format.max_target_tokens
        if decoding.strategy == "contrastive":
            kwargs["custom_generate"] = contrastive_search  # not in core transformers 5, see contrastive.py
        encoded = self.tokenizer(
            inputs, return_tensors="pt", padding=True, truncation=True, max_length=self.format.max_source_tokens
        ).to(self.model.device)
        causal = not self.model.config.is_encoder_decoder
        # Where the reply starts in the ids logits processors see: after the (left-padded) prompt, or after
        # the decoder's start token.
        reply_start = encoded["input_ids"].shape[1] if causal else 1
        if causal:
            kwargs = reply_only(kwargs, reply_start)
        if rules:  # after the repetition controls: a rule judges the scores greedy picks from
            processor = RulesProcessor(rules, len(inputs), reply_start, self.end_ids)
            kwargs.setdefault("logits_processor", LogitsProcessorList()).append(processor)
        with torch.inference_mode():
            output = self.model.generate(**encoded, pad_token_id=self.tokenizer.pad_token_id, **kwargs)
        if causal:
            output = output[:, encoded["input_ids"].shape[1] :]  # drop the echoed prompt
        return [text.strip() for text in self.tokenizer.batch_decode(output, skip_special_tokens=True)]

    @torch.inference_mode()
    def log_likelihoods(self, inputs: list[str], replies: list[str], *, batch_size: int = 16) -> list[float]:
        encoded = scored_replies(self.tokenizer, self.format, inputs, replies)
        if self.format.is_causal:
            return self._shared_prompt_log_probs(encoded)
        scores: list[float] = []
        for start in range(0, len(encoded), batch_size):
            rows, labels = zip(*encoded[start : start + batch_size])
            scores += self._seq2seq_log_probs(list(rows), list(labels))
        return scores

    def _shared_prompt_log_probs(self, encoded: list[tuple[list[int], list[int]]]) -> list[float]:
        """CausalLM rows grouped by prompt: candidates of one request share it, so it is run once and its
        key/value cache copied to each candidate (4-5x less work than a prompt per candidate)."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, (ids, labels) in enumerate(encoded):
            prompt_length = next(i for i, label in enumerate(labels) if label != IGNORE)
            groups.setdefault(tuple(ids[:prompt_length]), []).append(index)
        scores = [0.0] * len(encoded)
        device = self.model.device
        for prompt, members in groups.items():
            answers = [encoded[i][0][len(prompt) :] for i in members]
            prefix = self.model(input_ids=torch.tensor([prompt], device=device), use_cache=True)
            cache = prefix.cache
            cache.batch_repeat_interleave(len(members))
            answer_mask = _padded([[1] * len(a) for a in answers], 0)
            mask = torch.cat([torch.ones(len(members), len(prompt), dtype=torch.long), answer_mask], dim=1)
            ids = _padded(answers, self.tokenizer.pad_token_id)
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device), cache=cache).logits
            # The prompt's last position predicts the first reply token; each reply position the next one.
            first = prefix.logits[:, -1:].expand(len(members), 1, -1)
            log_probs = torch.log_softmax(torch.cat([first, logits[:, :-1]], dim=1).float(), dim=-1)
            picked = log_probs.gather(-1, ids.to(device).unsqueeze(-1)).squeeze(-1) * answer_mask.to(device)
            for index, total, count in zip(members, picked.sum(-1).tolist(), answer_mask.sum(-1).tolist()):
                scores[index] = total / count
        return scores

    def _seq2seq_log_probs(self, rows: list[list[int]], labels: list[list[int]]) -> list[float]:
        device = self.model.device
        ids = _padded(rows, self.tokenizer.pad_token_id).to(device)
        mask = _padded([[1] * len(r) for r in rows], 0).to(device)
        target = _padded(labels, IGNORE).to(device)
        logits = self.model(input_ids=ids, attention_mask=mask, labels=target).logits
        scored = target != IGNORE
        picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return ((picked * scored).sum(-1) / scored.sum(-1).clamp(min=1)).tolist()


IGNORE = -100
"""Label of a position that is not scored (the prompt of a causal model, padding)."""


def scored_row(tokenizer: Any, spec: FormatSpec, source: str, target: str) -> tuple[list[int], list[int]]:
    """Model input ids and label ids for one (source, target) pair, the target built by
    ``FormatSpec.build_target``: the one encoding that training (``training.data.features``) learns and
    reply selection scores. Seq2Seq: the encoder reads the source (truncated), the labels are the reply and
    EOS, nothing else (T5's tokenizer appends EOS itself, Gemma's would prepend BOS instead; the decoder's
    start token is prepended by the model). CausalLM: the prompt as the bot encodes it (with BOS where the
    tokenizer adds one; a too long prompt loses its *start*: the latest turns and the separator the reply
    follows must stay), then the reply and EOS; labels are the same ids with the prompt masked (-100)."""
    if not spec.is_causal:
        ids = tokenizer(source, max_length=spec.max_source_tokens, truncation=True)["input_ids"]
        labels = tokenizer(text_target=target, add_special_tokens=False)["input_ids"]
        return ids, labels[: spec.max_target_tokens - 1] + [tokenizer.eos_token_id]
    prompt = tokenizer(source, truncation=False)["input_ids"]
    if len(prompt) > spec.max_source_tokens:
        bos = tokenizer.bos_token_id
        keep_bos = bos is not None and prompt[0] == bos
        prompt = ([bos] if keep_bos else []) + prompt[len(prompt) - spec.max_source_tokens + keep_bos :]
    answer = tokenizer(spec.reply_prefix + target, add_special_tokens=False)["input_ids"]
    answer = answer[: spec.max_target_tokens - 1] + [tokenizer.eos_token_id]
    return prompt + answer, [IGNORE] * len(prompt) + answer


def scored_replies(tokenizer: Any, spec: FormatSpec, sources: list[str], replies: list[str]) -> list[tuple[list[int], list[int]]]:
    """``scored_row`` of each (source, reply), the reply first made a target as in training (``build_target``)."""
    truncate = tokenizer_truncator(tokenizer)
    return [scored_row(tokenizer, spec, source, spec.build_target(reply, truncate=truncate))
            for source, reply in zip(sources, replies, strict=True)]


def _padded(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def stop_token_ids(tokenizer: Any, eos: int | list[int] | None) -> list[int]:
    """EOS and every token that is only line breaks: a causal prompt has one turn a line, so a reply
    never spans two (a model that forgets its EOS would write the other speaker's next turn)."""
    ids = [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    for token, token_id in tokenizer.get_vocab().items():
        if token and set(token) <= {"\n", "\r"} and token_id not in ids:
            ids.append(token_id)
    return ids


def _check_local_dir(path: Path) -> FormatSpec:
    if not (path / "config.json").is_file() and not is_adapter_dir(path):
        raise ModelLoadError(f"model directory {path} has no config.json nor {ADAPTER_CONFIG}: "
                             "not a saved transformers model")
    try:
        return FormatSpec.load(path)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        raise ModelLoadError(f"model directory {path}: bad or missing {FORMAT_FILE}: {exc}") from exc


def _local_model_id(path: Path) -> str:
    """Directory name + a short hash of the config and weight files' contents.

    Contents, not mtimes: the same shipped model gets the same id in every clone.
    """
    files = sorted(p for p in path.iterdir() if p.name in ID_FILES or p.name.endswith(WEIGHT_SUFFIXES))
    digest = hashlib.sha1()
    for file in files:
        digest.update(file.name.encode())
        with file.open("rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    return f"{path.resolve().name}@{digest.hexdigest()[:8]}"


def _looks_local(model_path: str) -> bool:
    """Hub ids are ``name`` or ``owner/name``; anything else is meant as a local path."""
    return model_path.startswith((".", "/", "~")) or model_path.count("/") > 1 or "\\" in model_path


def _hub_format(repo_id: str) -> FormatSpec:
    reachable = offline_unless_reachable()  # offline: the local cache only, in seconds rather than a retry loop
    try:
        from huggingface_hub import hf_hub_download

        return FormatSpec.load(Path(hf_hub_download(repo_id, FORMAT_FILE)).parent)
    except Exception as exc:
        where = "" if reachable else " (the hub cannot be reached, and it is not in the local cache)"
        raise ModelLoadError(
            f"model {repo_id!r} is neither a local directory nor a hub model with {FORMAT_FILE}{where}: {exc}"
        ) from exc
