"""The run launcher of `make serve RUNS=docker`: dagster-docker's DockerRunLauncher, whose run containers
also get an unmasked /proc.

bubblewrap (the sandbox inside a run container) mounts a fresh /proc for the programs it runs, and the
kernel refuses that in a user namespace while paths of the container's /proc are masked, as Docker masks
them by default. `docker run --security-opt systempaths=unconfined` lifts the masks, but that option
exists only in the docker command: the Engine API takes empty MaskedPaths and ReadonlyPaths in the
container's HostConfig instead, and docker-py (which DockerRunLauncher uses) has no argument for them.
So this launcher sets the two fields on the request that creates each run container; everything else
is DockerRunLauncher's (its config, its health checks, its resume and terminate).

The module lives in deploy/ (the daemon and the webserver get it on PYTHONPATH from deploy/serve.py) and
in the code image (deploy/build-code-image.sh copies it into the image's site-packages), since every
process that loads the instance may load its run launcher.
"""

from __future__ import annotations

from typing import Any

from dagster_docker import DockerRunLauncher


class SandboxDockerRunLauncher(DockerRunLauncher):
    """DockerRunLauncher with /proc unmasked in the run containers (see the module's docstring)."""

    def _get_client(self, container_context: Any):
        client = super()._get_client(container_context)
        create = client.api.create_container_from_config

        def create_unmasked(config: dict, name: str | None = None, platform: str | None = None):
            host = config.setdefault("HostConfig", {})
            host["MaskedPaths"], host["ReadonlyPaths"] = [], []
            return create(config, name, platform)

        client.api.create_container_from_config = create_unmasked
        return client
