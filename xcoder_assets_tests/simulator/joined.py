"""The simulator's extract answer for a prompt handed over as one string (the system and user texts
joined by a blank line), as recipe/test_features.py hands it: split back into the two messages and
answered through the registry, by the template's id, like every request."""

from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.simulator.features import analyze_solution  # noqa: F401 (re-exported for the recipe tests)
from xcoder_assets.simulator.registry import answer

__test__ = False


def answer_feature_extraction(prompt: str) -> tuple[str, str]:
    template = load_template("extract_features")
    if not prompt.startswith(template.system + "\n\n"):
        raise ValueError("not a joined extract_features prompt (its system text first)")
    messages = [
        {"role": "system", "content": template.system},
        {"role": "user", "content": prompt[len(template.system) + 2 :]},
    ]
    return answer(template.id, messages)
