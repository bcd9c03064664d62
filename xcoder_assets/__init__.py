"""xcoder-assets: the SynthSmith pipeline (X-Coder) as Dagster assets."""

import os

# litellm fetches its model price map over the network at import unless told to read its local copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
