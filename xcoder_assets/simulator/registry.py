"""Which handler answers a request: a registry keyed by the prompt template's id and version.

The gateway sends the id of the template behind every request as metadata (in-process) or as the
`X-Prompt-Template` header (HTTP). The simulator looks the handler up by that id, never by the
prompt's prose, and the handler gets the template's variables, read back out of the rendered
prompt by that template itself (`PromptTemplate.parse`), so rewording a template keeps the
simulator answering (and answering the same), and an id it does not know gets an error naming it.
"""

from __future__ import annotations

from typing import Any, Sequence

from xcoder_assets.llm.wire import TEMPLATE_HEADER, TEMPLATE_METADATA_KEY
from xcoder_assets.recipe.prompts import TemplateMismatch, template_by_id
from xcoder_assets.simulator.common import Answer, Handler, SimRequest
from xcoder_assets.simulator.compose import answer_problem_scenario, answer_problem_statement
from xcoder_assets.simulator.evolve import answer_feature_evolution
from xcoder_assets.simulator.features import answer_feature_extraction
from xcoder_assets.simulator.solve import answer_solve, answer_test_writer

HANDLERS: dict[str, Handler] = {
    "extract_features@v1": answer_feature_extraction,
    "evolve_features@v1": answer_feature_evolution,
    "compose_scenario@v1": answer_problem_scenario,
    "compose_problem@v1": answer_problem_statement,
    "write_tests@v1": answer_test_writer,
    "solve@v1": answer_solve,
}


class SimulatorError(ValueError):
    """A request the simulator cannot answer: no template id, an unknown one, or a prompt that is
    not that template's rendering. Served as a 400 (not retryable) with this message."""


def answer(
    template_id: str | None, messages: Sequence[dict[str, Any]], seed: int | None = None, max_tokens: int | None = None
) -> Answer:
    """The simulator's answer to one request: (content, finish_reason), cut off at `max_tokens`
    (4 characters a token) like a real server."""
    if not template_id:
        raise SimulatorError(
            f"the offline simulator answers only the pipeline's prompt templates and needs the template id "
            f"(request metadata {TEMPLATE_METADATA_KEY!r}, or the {TEMPLATE_HEADER} header); this request has none"
        )
    handler = HANDLERS.get(template_id)
    if handler is None:
        raise SimulatorError(
            f"the offline simulator has no handler for prompt template {template_id!r}; "
            f"it answers {', '.join(sorted(HANDLERS))}"
        )
    try:
        variables = template_by_id(template_id).parse(messages)
    except (TemplateMismatch, FileNotFoundError, ValueError) as exc:
        raise SimulatorError(f"prompt template {template_id!r}: {exc}") from None
    content, finish_reason = handler(SimRequest(template_id, variables, seed))
    if max_tokens and len(content) // 4 > max_tokens:
        content, finish_reason = content[: max_tokens * 4], "length"
    return content, finish_reason


def template_of(headers: Any, metadata: Any = None) -> str | None:
    """The template id from litellm metadata, else from the request's headers (any case)."""
    if isinstance(metadata, dict) and metadata.get(TEMPLATE_METADATA_KEY):
        return str(metadata[TEMPLATE_METADATA_KEY])
    for name, value in (dict(headers or {})).items():
        if str(name).lower() == TEMPLATE_HEADER.lower():
            return str(value)
    return None
