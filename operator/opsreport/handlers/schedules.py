"""ReportSchedule handlers: parse, call the service, write status, post Events."""

from __future__ import annotations

from typing import Any

import kopf

from opsreport import api
from opsreport.checks import SpecChecks, scope_violation
from opsreport.kube import KubeError
from opsreport.model.spec import InvalidSpec
from opsreport.reconcile import Schedule, invalid_spec_status, parse_schedule, spec_status
from opsreport.service import Notice, Operator

# How often each schedule checks whether a run is due; cheap, because the check is pure maths.
TICK_SECONDS = 5.0
# When the API server throttles us without saying for how long.
THROTTLED_DELAY = 10.0
RESOURCE = (api.GROUP, api.VERSION, api.PLURAL)


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile", field="spec")
async def reconcile(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    operator: Operator = memo.operator
    checks: SpecChecks = memo.checks
    now = operator.clock()
    try:
        schedule = parse_schedule(dict(body))
        violation = scope_violation(schedule, operator.config)
        if violation is not None:
            raise violation
    except InvalidSpec as error:
        patch.status.update(invalid_spec_status(dict(body), error, now).patch())
        kopf.event(body, type="Warning", reason=error.reason, message=str(error))
        logger.warning("invalid spec: %s", error)
        return
    judged = spec_status(schedule, now)
    try:
        verdict = await checks.judge(schedule, operator.prometheus_for(schedule.spec))
    except KubeError as error:
        # Throttled (429): judge again once the API server says so; the status waits too.
        raise kopf.TemporaryError(str(error), delay=error.retry_after or THROTTLED_DELAY) from None
    status = judged.model_copy(
        update={"conditions": verdict.conditions(judged.conditions, schedule.generation, now)}
    )
    try:
        # Written by us, not through kopf's patch: a failed write must fail the handler so kopf
        # retries it; otherwise the generation stays unjudged and the tick would wait forever.
        await operator.patch_status(schedule, status)
    except KubeError as error:
        raise kopf.TemporaryError(str(error), delay=error.retry_after or THROTTLED_DELAY) from None
    for finding in [*([verdict.problem] if verdict.problem else []), *verdict.warnings]:
        kopf.event(body, type="Warning", reason=finding.reason, message=finding.message)
        logger.warning("%s: %s", finding.reason, finding.message)


@kopf.timer(*RESOURCE, id="tick", interval=TICK_SECONDS, initial_delay=1.0)
async def tick(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    operator: Operator = memo.operator
    try:
        schedule: Schedule | None = parse_schedule(dict(body))
    except InvalidSpec:
        schedule = None
    _observe(operator, body, schedule)
    if schedule is None:
        return  # reconcile has reported it; nothing can run until the spec is fixed
    if schedule.generation != schedule.status.observed_generation:
        return  # reconcile has not judged this generation yet

    def notify(notice: Notice) -> None:
        kopf.event(body, type=notice.type, reason=notice.reason, message=notice.message)
        log = logger.warning if notice.type == "Warning" else logger.info
        log("%s: %s", notice.reason, notice.message)

    try:
        await operator.tick(schedule, notify)
    except KubeError as error:
        if error.retry_after is not None:
            # Throttled: kopf calls this timer again after the delay the API server asked for.
            raise kopf.TemporaryError(str(error), delay=error.retry_after) from None
        # 409/5xx from the API server: try again on a later tick, never crash the timer.
        logger.warning("could not act on the schedule: %s", error)


@kopf.on.event(*RESOURCE, id="forget")
async def forget(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A deleted schedule's metrics go with it. Watching, not a deletion handler: the metrics
    need no cleanup that must finish before the object goes."""
    operator: Operator | None = getattr(memo, "operator", None)
    if event.get("type") == "DELETED" and operator is not None:
        meta = (event.get("object") or {}).get("metadata") or {}
        operator.metrics.forget(str(meta.get("namespace")), str(meta.get("name")))


def _observe(operator: Operator, body: kopf.Body, schedule: Schedule | None) -> None:
    """Feed the per-schedule metrics (conditions, last success, period) from the object."""
    spec = schedule.spec if schedule is not None else None
    operator.metrics.observe_schedule(
        dict(body),
        schedule=spec.schedule if spec is not None else None,
        zone=spec.zone if spec is not None else None,
        suspended=bool(spec and spec.suspend),
        now=operator.clock(),
    )
