"""The offline SynthSmith simulator: a deterministic stand-in for every LLM role, a product of its own.

It answers the pipeline's prompt templates, recognised by their id and version (`registry.HANDLERS`),
never by the prompt's prose: the gateway sends the id with every request, and each handler gets the
template's variables back out of the rendered prompt. Served two ways, with the same answers:
in-process as the litellm custom provider `xcoder-offline/synthsmith-sim-1` (provider.py), and over
HTTP as the model `synthsmith-sim-1` of the local OpenAI-compatible fake server (fake_server.py,
`xcoder fake-llm-server`), which also scripts failures for the gateway's tests.

    common.py    the hash behind every 'random' choice; SimRequest (template id, values, seed)
    registry.py  template id -> handler; what an unknown id or a foreign prompt gets
    features.py  feature extraction        evolve.py   feature evolution
    compose.py   problem composition       solve.py    candidate solutions, test generators
    prose.py     generated places, people and sentence blocks of the statements
    distinct.py  the measure of it as a load generator: configurations -> distinct problems and programs
"""
