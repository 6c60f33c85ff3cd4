"""Every output kind, by the name a schedule gives it in `spec.outputs[]`.

The rest of the operator (service, checks, show) learns of kinds only here. Each kind's module
exports one `OutputKind`; its spec model is registered in `opsreport.model.outputs.OUTPUT_SPECS`,
and a test keeps the two lists, and the CRD's one-of rule, the same.
"""

from __future__ import annotations

from typing import Any

from opsreport.deliver import configmap, s3
from opsreport.deliver.base import OutputKind

OUTPUTS: dict[str, OutputKind[Any]] = {kind.kind: kind for kind in (configmap.OUTPUT, s3.OUTPUT)}
