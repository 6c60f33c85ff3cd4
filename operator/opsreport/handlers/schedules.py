"""ReportSchedule handlers: parse, call the service, write status, post Events."""

from __future__ import annotations

from typing import Any

import kopf

from opsreport import api
from opsreport.kube import KubeError
from opsreport.model.spec import InvalidSpec
from opsreport.reconcile import invalid_spec_status, parse_schedule, spec_status
from opsreport.service import Notice, Operator

# How often each schedule checks whether a run is due; cheap, because the check is pure maths.
TICK_SECONDS = 5.0
RESOURCE = (api.GROUP, api.VERSION, api.PLURAL)


@kopf.on.resume(*RESOURCE, id="reconcile")
@kopf.on.create(*RESOURCE, id="reconcile")
@kopf.on.update(*RESOURCE, id="reconcile", field="spec")
async def reconcile(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    operator: Operator = memo.operator
    now = operator.clock()
    try:
        schedule = parse_schedule(dict(body))
    except InvalidSpec as error:
        patch.status.update(invalid_spec_status(dict(body), error, now))
        kopf.event(body, type="Warning", reason=error.reason, message=str(error))
        logger.warning("invalid spec: %s", error)
        return
    patch.status.update(spec_status(schedule, now))


@kopf.timer(*RESOURCE, id="tick", interval=TICK_SECONDS, initial_delay=1.0)
async def tick(body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any) -> None:
    operator: Operator = memo.operator
    try:
        schedule = parse_schedule(dict(body))
    except InvalidSpec:
        return  # reconcile has reported it; nothing can run until the spec is fixed
    if schedule.generation != schedule.status.get("observedGeneration"):
        return  # reconcile has not judged this generation yet

    def notify(notice: Notice) -> None:
        kopf.event(body, type=notice.type, reason=notice.reason, message=notice.message)
        log = logger.warning if notice.type == "Warning" else logger.info
        log("%s: %s", notice.reason, notice.message)

    try:
        await operator.tick(schedule, notify)
    except KubeError as error:
        # 409/429/5xx from the API server: try again on a later tick, never crash the timer.
        logger.warning("could not act on the schedule: %s", error)
