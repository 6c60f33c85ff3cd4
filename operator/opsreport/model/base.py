"""What every part of the spec shares: the model's conventions, patterns of Kubernetes names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
DATA_KEY = r"^[-._a-zA-Z0-9]+$"  # a key in a Secret's data


class SpecModel(BaseModel):
    """Fields in camelCase as users write them, unknown fields refused, frozen once parsed."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
