"""What the gateway sends with every request besides the chat request itself (no litellm import:
the simulator's fake server reads these too).

The prompt template's id (`<name>@v<N>`, already part of the cache key) goes as litellm metadata to
an in-process provider (never sent anywhere) and as a header to HTTP endpoints, which real
OpenAI-compatible servers ignore; the offline simulator answers by it.
"""

TEMPLATE_HEADER = "X-Prompt-Template"
TEMPLATE_METADATA_KEY = "prompt_template"
