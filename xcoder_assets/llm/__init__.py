"""The LLM gateway over litellm: cache, limits, accounting, answer parsing, bench. Nothing simulated
(the offline provider and the fake server are xcoder_assets.simulator)."""

from xcoder_assets.llm.noise import quiet_litellm_warnings

quiet_litellm_warnings()  # before any module of this package imports litellm
