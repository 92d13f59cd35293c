"""Who owns a stored file, an upload or a kept session: the API key that made it, or the anonymous owner.

An owner is recorded as "key:" and the key's SHA-256, never the key itself; without API keys every
caller is the one anonymous owner. Records from before owners were kept belong to the anonymous owner.
"""

from __future__ import annotations

import hashlib
import re

ANONYMOUS = "anonymous"
KEY_PREFIX = "key:"
_KEY_OWNER = re.compile(r"key:[0-9a-f]{64}")
TAG_LENGTH = 12  # hex digits of the hash that name a key in /metrics: enough to tell keys apart


def key_owner(key: str) -> str:
    return KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def is_owner(text: object) -> bool:
    """Whether text, as read back from disk, names an owner this server could have recorded."""
    return text == ANONYMOUS or (isinstance(text, str) and _KEY_OWNER.fullmatch(text) is not None)


def is_key(owner: str) -> bool:
    """Whether owner is an API key, bound by per-key quotas; the anonymous owner has the global caps only."""
    return owner != ANONYMOUS


def owner_tag(owner: str) -> str:
    """A short name for owner that reveals nothing of its key: the head of the key's hash."""
    if not is_key(owner):
        return ANONYMOUS
    return owner.removeprefix(KEY_PREFIX)[:TAG_LENGTH]
