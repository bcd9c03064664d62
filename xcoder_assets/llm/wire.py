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


def batch_custom_id(cache_key: str, template: str) -> str:
    return f"{cache_key} {template}"


def split_batch_custom_id(custom_id: str) -> tuple[str, str | None]:
    key, _, template = str(custom_id).partition(" ")
    if not key:
        raise ValueError(f"custom_id {custom_id!r} names no request")
    return key, template or None
