"""A user's template from `spec.template.configMapRef`, read in the schedule's own namespace."""

from __future__ import annotations

from opsreport.kube import KubeApi
from opsreport.model.spec import TemplateSpec
from opsreport.render.documents import CustomTemplate, RenderError


async def load_custom_template(
    kube: KubeApi, namespace: str, template: TemplateSpec
) -> CustomTemplate | None:
    """Read for every run, so an edit takes effect at the next report. A missing ConfigMap or key
    fails like a broken template (TemplateRenderFailed), naming what is missing."""
    ref = template.config_map_ref
    if ref is None:
        return None
    where = f"spec.template.configMapRef: ConfigMap {namespace}/{ref.name}"
    body = await kube.get(f"/api/v1/namespaces/{namespace}/configmaps/{ref.name}")
    if body is None:
        raise RenderError(f"{where} not found")
    source = (body.get("data") or {}).get(ref.key)
    if not isinstance(source, str):
        raise RenderError(f"{where} has no key {ref.key!r} under data")
    return CustomTemplate(config_map=ref.name, key=ref.key, source=source)
