"""What the gateway sends with every request besides the chat request itself (no litellm import:
the simulator's fake server reads these too).

The prompt template's id (`<name>@v<N>`, already part of the cache key) goes as litellm metadata to
an in-process provider (never sent anywhere) and as a header to HTTP endpoints, which real
OpenAI-compatible servers ignore; the offline simulator answers by it.
"""

TEMPLATE_HEADER = "X-Prompt-Template"
TEMPLATE_METADATA_KEY = "prompt_template"

# A provider batch's line carries no headers: its custom_id names the request's cache key and the
# template's id, "<cache key> <template id>" (the fake server's simulator answers by the template).
# Anthropic's custom_id takes only [a-zA-Z0-9_-]{1,64}: "<cache key>-<name>-v<N>" there, or the key alone
# when that would be longer (a cache key is hex: the first '-' ends it).
ANTHROPIC_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def batch_custom_id(cache_key: str, template: str, provider: str = "openai") -> str:
    if provider != "anthropic":
        return f"{cache_key} {template}"
    encoded = f"{cache_key}-{template.replace('@', '-')}"
    return encoded if len(encoded) <= 64 and set(encoded) <= ANTHROPIC_ID_CHARS else cache_key


def split_batch_custom_id(custom_id: str) -> tuple[str, str | None]:
    text = str(custom_id)
    if " " in text or "-" not in text:
        key, _, template = text.partition(" ")
    else:
        key, _, rest = text.partition("-")
        name, _, version = rest.rpartition("-")
        template = f"{name}@{version}" if name and version else ""
    if not key:
        raise ValueError(f"custom_id {custom_id!r} names no request")
    return key, template or None
