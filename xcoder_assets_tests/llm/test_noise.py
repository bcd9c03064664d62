"""No pydantic or deprecation warnings from litellm reach the terminal once the gateway is in use."""

import os
import subprocess
import sys

from xcoder_assets_tests.conftest import PROJECT_ROOT

# A real offline call through litellm's synchronous path: pydantic builds the schemas of litellm's
# TypedDicts there and warns about their ReadOnly items, once per class.
SCRIPT = """
import sys, warnings
import litellm
from xcoder_assets.llm.gateway import LLMGateway
from xcoder_assets.llm.settings import OFFLINE_MODEL
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.simulator.provider import register_offline_provider
if sys.argv[1] == "unfiltered":  # the control: the same run with every warning shown
    warnings.resetwarnings()
    warnings.simplefilter("always")
register_offline_provider()
template = load_template("extract_features")
messages = template.render(question="Add two numbers.", code="print(sum(map(int, input().split())))")
litellm.completion(model=OFFLINE_MODEL, messages=messages, metadata={"prompt_template": template.id})
warnings.warn("a warning of our own", UserWarning)
print("done")
"""


def start(mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-W", "always", "-c", SCRIPT, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=ENV,
    )


def finished(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


ENV = {**{k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def test_litellm_warnings_are_filtered_and_ours_are_not():
    both = start("unfiltered"), start("filtered")  # at once: each spends seconds importing litellm
    control, quiet = map(finished, both)
    assert control.returncode == 0 and "done" in control.stdout, control.stderr[-2000:]
    assert "ReadOnly" in control.stderr  # litellm really warns on this path: the filter has work to do
    assert quiet.returncode == 0 and "done" in quiet.stdout, quiet.stderr[-2000:]
    lines = [line for line in quiet.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 1 and "a warning of our own" in lines[0], quiet.stderr[-2000:]
