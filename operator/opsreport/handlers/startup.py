"""Operator-wide setup: settings, clients and limits, stored in kopf's memo."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from opsreport import api
from opsreport.checks import SpecChecks
from opsreport.config import OperatorConfig
from opsreport.kube import connect
from opsreport.kubeauth import KubeAuthError
from opsreport.metrics import OperatorMetrics
from opsreport.render.environment import warm
from opsreport.scheduling import system_clock
from opsreport.service import Operator


@kopf.on.startup()
async def configure(
    settings: kopf.OperatorSettings, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    config = OperatorConfig.from_env()
    # Our own prefixes, so kopf's bookkeeping is recognisably ours.
    settings.persistence.finalizer = f"{api.GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=api.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=api.GROUP, key="last-handled-configuration"
    )
    # Events are posted explicitly with kopf.event; log lines never become Events on their own.
    settings.posting.enabled = True
    settings.posting.level = logging.CRITICAL + 10
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    settings.peering.name = config.peering or "opsreport"
    settings.peering.lifetime = config.peering_lifetime
    metrics = OperatorMetrics()
    if config.metrics_port:
        try:
            metrics.serve(config.metrics_port)
        except OSError as error:
            # A taken port is a configuration error: say so and stop, rather than run unobserved.
            raise kopf.PermanentError(
                f"cannot serve metrics on port {config.metrics_port}: {error}"
            ) from None
    metrics.slots.set(config.max_concurrent_reports)
    try:
        kube = await connect(config.kubeconfig, on_response=metrics.observe_api_request)
    except KubeAuthError as error:
        # Missing or unusable credentials do not heal by waiting: stop, saying why.
        raise kopf.PermanentError(f"cannot log in to the Kubernetes API: {error}") from None
    logger.info("Kubernetes API at %s, credentials from %s", kube.source.server, kube.source.origin)
    memo.checks = SpecChecks(kube)
    # Compile the built-in templates once, here, rather than in the first report (~0.5-1 s).
    await asyncio.to_thread(warm)
    memo.operator = Operator(
        config=config,
        kube=kube,
        clock=system_clock,
        slots=asyncio.Semaphore(config.max_concurrent_reports),
        metrics=metrics,
    )


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    operator = getattr(memo, "operator", None)
    if operator is not None:
        await operator.shutdown()
        await operator.kube.close()
        operator.metrics.close()


@kopf.on.probe(id="schedules")
def probe(memo: kopf.Memo, **_: Any) -> str:
    operator = getattr(memo, "operator", None)
    return "ready" if operator is not None else "starting"
