"""The Hugging Face hub, asked only when it can answer.

Offline, huggingface_hub retries every request with back-off (about 50 seconds for one model) before it says
what is wrong. ``offline_unless_reachable`` tries one connection first (a few seconds at most) and, when the hub
cannot be reached, switches huggingface_hub to offline mode: a model in the local cache still loads, any other
fails at once, and the caller says what to do instead.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

CONNECT_TIMEOUT_S = 3.0


def hub_reachable(timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the hub's endpoint (``HF_ENDPOINT``, default huggingface.co) opens in time."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout=timeout).close()
    except OSError:
        return False
    return True


def offline_unless_reachable() -> bool:
    """Whether the hub can be reached; if not, huggingface_hub (and this process's children) go offline."""
    if hub_reachable():
        return True
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = True
    os.environ["HF_HUB_OFFLINE"] = "1"
    return False


def in_cache(repo_id: str, filename: str = "config.json") -> bool:
    """Whether the local hub cache holds ``filename`` of ``repo_id`` (what loading offline can still use)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)
    except ValueError:  # not a valid repo id
        return False
