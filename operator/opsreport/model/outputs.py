"""Where reports go: each output kind's spec model, and the `outputs[]` item built from them.

`OUTPUT_SPECS` maps a kind's name (its key in `spec.outputs[]`) to its model. The behaviour of a
kind (building its sink, reading a report back) lives in `opsreport.deliver.registry`, which must
list the same kinds (a test checks); the model layer knows only what a user may write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from opsreport.model.base import DATA_KEY, DNS_SUBDOMAIN, SpecModel
from opsreport.model.s3keys import DEFAULT_KEY_TEMPLATE, KeyTemplate, check_key_text


class ConfigMapOutput(SpecModel):
    # Reports of this schedule to keep, newest windows first; None keeps every report.
    keep: int | None = Field(default=None, ge=1, le=1000)
    # Also keep `<schedule>-latest`, a stable name for dashboards and links.
    latest: bool = False


MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer


class SecretKeyRef(SpecModel):
    """A Secret in the schedule's own namespace; there is deliberately no namespace field."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)
    access_key_id_key: str = Field(default="accessKeyId", max_length=253, pattern=DATA_KEY)
    secret_access_key_key: str = Field(default="secretAccessKey", max_length=253, pattern=DATA_KEY)
    # Used when the Secret has it (temporary credentials); absent is fine.
    session_token_key: str = Field(default="sessionToken", max_length=253, pattern=DATA_KEY)


class ServerSideEncryption(SpecModel):
    type: Literal["AES256", "aws:kms"]
    kms_key_id: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _kms_key_only_for_kms(self) -> ServerSideEncryption:
        if self.kms_key_id is not None and self.type != "aws:kms":
            raise ValueError("kmsKeyId needs type aws:kms")
        return self


class S3Output(SpecModel):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9._-]*[a-z0-9]$")
    prefix: str = Field(default="", max_length=512)
    endpoint: str | None = Field(default=None, max_length=2048)
    region: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    force_path_style: bool = False
    key_template: str = Field(default=DEFAULT_KEY_TEMPLATE, min_length=1, max_length=512)
    credentials_secret_ref: SecretKeyRef | None = None
    server_side_encryption: ServerSideEncryption | None = None
    keep: int | None = Field(default=None, ge=1, le=10000)
    max_age_days: int | None = Field(default=None, ge=1, le=36500)
    presign_seconds: int | None = Field(default=None, ge=1, le=MAX_PRESIGN_SECONDS)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.match(r"^https?://[^\s/@]+(/\S*)?$", value):
            raise ValueError(
                "must be an http:// or https:// URL without credentials (use credentialsSecretRef)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix_is_safe(cls, value: str) -> str:
        check_key_text(value)
        return value.strip("/")

    @field_validator("key_template")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        KeyTemplate.parse(value)  # raises ValueError saying what is wrong
        return value


# Every output kind a schedule may name, in the order messages list them.
OUTPUT_SPECS: dict[str, type[SpecModel]] = {"configMap": ConfigMapOutput, "s3": S3Output}


@dataclass(frozen=True)
class OutputSpec:
    """One item of `spec.outputs[]`: the kind the user named and its parsed settings."""

    kind: str
    config: SpecModel


def kind_list(kinds: Iterable[str]) -> str:
    """`configMap or s3`, `a, b or c`: the kinds as messages name them."""
    *first, last = kinds
    return f"{', '.join(first)} or {last}" if first else last


class _OneKind(SpecModel):
    @model_validator(mode="after")
    def _exactly_one(self) -> _OneKind:
        if sum(getattr(self, name) is not None for name in type(self).model_fields) != 1:
            raise ValueError(f"each output needs exactly one kind: {kind_list(OUTPUT_SPECS)}")
        return self


@cache
def _item_model(kinds: tuple[tuple[str, type[SpecModel]], ...]) -> type[_OneKind]:
    # One optional field per kind, so pydantic reports unknown kinds and nested errors at the
    # paths users wrote (`spec.outputs[0].s3.bucket`), as a hand-written model would.
    fields: dict[str, Any] = {name: (model | None, None) for name, model in kinds}
    return create_model("OutputSpec", __base__=_OneKind, **fields)


def parse_output(value: object) -> OutputSpec:
    """An `outputs[]` item as written (`{"s3": {...}}`), judged against the kinds registered now."""
    if isinstance(value, OutputSpec):
        return value  # made by our code (the default), never from user input
    item = _item_model(tuple(OUTPUT_SPECS.items())).model_validate(value)
    (kind,) = (name for name in type(item).model_fields if getattr(item, name) is not None)
    return OutputSpec(kind, getattr(item, kind))
