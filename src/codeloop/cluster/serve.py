"""codeloop as a Ray Serve application: API replicas that share the cluster's sandboxes and kept sessions.

    serve run codeloop.cluster.serve:app_builder model=qwen2.5-coder-0.5b min_replicas=2 max_replicas=8

or, in a Serve config file, `import_path: codeloop.cluster.serve:app_builder` with the same names under
`args`. Every Settings field is an argument (`ray` defaults to `auto`: the replicas' own cluster); so
are the autoscaling knobs below. Each replica is the same create_app(settings) `codeloop serve` runs,
with its own copy of the model (or its `openai:` upstream); sessions run on the sandbox nodes, and
kept sessions are found through the cluster's session directory from any replica. `data_dir` must be
a directory every replica reaches (on several machines, a network filesystem mounted at the same
path): the Files API store is shared there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from ray import serve
from ray.serve import Application

from codeloop.server.app import create_app
from codeloop.settings import Settings

REPLICA_HEADER = "x-codeloop-replica"  # which replica answered: for operators, and for tests of failover
# Serve's own knobs, with their defaults; everything else is a Settings field.
SCALING = {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 2.0, "num_cpus": 1.0}


def app_builder(args: dict[str, Any]) -> Application:
    """The application `serve run` deploys: args are Settings fields and the SCALING knobs."""
    scaling = {name: type(default)(args.get(name, default)) for name, default in SCALING.items()}
    fields = {name: value for name, value in args.items() if name not in SCALING}
    unknown = sorted(set(fields) - set(Settings.model_fields))
    if unknown:
        raise ValueError(f"not a codeloop setting or a Serve knob: {', '.join(unknown)}")
    fields.setdefault("ray", "auto")
    fields.setdefault("shared_data_dir", True)  # every replica sees every stored file
    Settings(**fields)  # refused here, at deploy time, rather than in every replica

    def build() -> FastAPI:
        app = create_app(Settings(**fields))
        replica = serve.get_replica_context().replica_id.unique_id

        @app.middleware("http")
        async def name_the_replica(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            response = await call_next(request)
            response.headers[REPLICA_HEADER] = replica
            return response

        return app

    class Codeloop:
        """One API replica: the ASGI app build() makes, served by Serve's proxy."""

    deployment: Any = serve.deployment(
        serve.ingress(build)(Codeloop),
        name="codeloop",
        autoscaling_config={
            "min_replicas": int(scaling["min_replicas"]),
            "max_replicas": int(scaling["max_replicas"]),
            "target_ongoing_requests": scaling["target_ongoing_requests"],
        },
        ray_actor_options={"num_cpus": scaling["num_cpus"]},
    )
    app: Application = deployment.bind()
    return app
