"""An encoder-decoder built from a decoder-only Gemma 3: the T5Gemma 2 adaptation.

T5Gemma 2 (transformers' ``T5Gemma2ForConditionalGeneration``) is Gemma 3 made Seq2Seq: the encoder
is Gemma 3's stack with bidirectional attention, the decoder is the same stack whose attention is
*merged*: one attention over the decoder's own tokens and the encoder's outputs, with one set of
q/k/v/o weights. So every weight of the encoder-decoder has a counterpart in Gemma 3, and both
stacks start as copies of it; cross-attention starts from the self-attention weights by
construction. The class also carries an image encoder (SigLIP); a text-only model gets a token-sized
one that is never run (its few thousand random weights are set by a fixed seed).
"""

from __future__ import annotations

from typing import Any

import torch

TEXT_KEYS = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
             "num_key_value_heads", "head_dim", "hidden_activation", "max_position_embeddings", "rms_norm_eps",
             "pad_token_id", "eos_token_id", "bos_token_id", "rope_parameters", "attention_bias",
             "query_pre_attn_scalar", "sliding_window", "layer_types", "final_logit_softcapping",
             "attn_logit_softcapping")
"""Gemma 3 text config fields that T5Gemma 2's encoder and decoder take as they are."""
LAYER_NAMES = {"input_layernorm": "pre_self_attn_layernorm", "post_attention_layernorm": "post_self_attn_layernorm"}
"""Gemma 3 layer weights named differently in T5Gemma 2 (the rest keep their names)."""
ARCHITECTURE = "t5gemma2"


def encoder_decoder_config(causal_config: Any) -> Any:
    from transformers import SiglipVisionConfig, T5Gemma2Config
    from transformers.models.t5gemma2.configuration_t5gemma2 import (
        T5Gemma2DecoderConfig,
        T5Gemma2EncoderConfig,
        T5Gemma2TextConfig,
    )

    text = {key: getattr(causal_config, key) for key in TEXT_KEYS}
    unused_vision = SiglipVisionConfig(hidden_size=8, intermediate_size=8, num_hidden_layers=1, num_attention_heads=1,
                                       image_size=16, patch_size=8)
    encoder = T5Gemma2EncoderConfig(text_config=T5Gemma2TextConfig(**text), vision_config=unused_vision,
                                    mm_tokens_per_image=1)
    return T5Gemma2Config(encoder=encoder, decoder=T5Gemma2DecoderConfig(**text), tie_word_embeddings=True)


def encoder_decoder_from_causal(causal: Any) -> Any:
    """A ``T5Gemma2ForConditionalGeneration`` whose encoder and decoder are copies of Gemma 3 ``causal``."""
    from transformers import T5Gemma2ForConditionalGeneration

    if causal.config.model_type != "gemma3_text":
        raise ValueError(f"the T5Gemma 2 adaptation starts from a Gemma 3 text model, not {causal.config.model_type!r}")
    torch.manual_seed(0)  # the unused image encoder: the same few weights in every process
    model = T5Gemma2ForConditionalGeneration(encoder_decoder_config(causal.config))
    state = {}
    for name, weight in causal.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the embedding
        name = name.removeprefix("model.")
        for old, new in LAYER_NAMES.items():
            name = name.replace(f".{old}.", f".{new}.")
        state[f"model.encoder.text_model.{name}"] = weight
        state[f"model.decoder.{name}"] = weight
    missing, unexpected = model.load_state_dict(state, strict=False)
    left = [n for n in missing if not n.startswith(("model.encoder.vision_tower", "model.encoder.multi_modal_projector"))
            and not n.endswith("eoi_embedding") and n != "lm_head.out_proj.weight"]
    if left or unexpected:
        raise ValueError(f"Gemma 3 -> T5Gemma 2: weights not mapped {left}, unexpected {unexpected}")
    model.tie_weights()
    model.generation_config.eos_token_id = causal.generation_config.eos_token_id
    model.generation_config.pad_token_id = causal.config.pad_token_id
    model.generation_config.bos_token_id = causal.config.bos_token_id
    model.generation_config.decoder_start_token_id = causal.config.bos_token_id
    return model.to(causal.dtype)
