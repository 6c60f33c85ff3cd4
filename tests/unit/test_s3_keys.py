"""S3 output spec and key templates: safe formatting, matching back, ordering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from opsreport.deliver.s3 import _encryption
from opsreport.model.outputs import ConfigMapOutput, S3Output
from opsreport.model.s3keys import DEFAULT_KEY_TEMPLATE, KeyTemplate, parse_location
from opsreport.model.spec import InvalidSpec, parse_spec
from opsreport.render.documents import EXTENSIONS
from opsreport.scheduling import Window

WINDOW = Window(datetime(2026, 11, 21, 6, tzinfo=UTC), datetime(2026, 11, 22, 6, tzinfo=UTC))


def spec_with(output: dict[str, Any]) -> dict[str, Any]:
    return {"schedule": "@daily", "window": {"duration": "24h"}, "outputs": [output]}


def s3(**fields: Any) -> S3Output:
    output = parse_spec(spec_with({"s3": {"bucket": "reports", **fields}})).outputs[0].config
    assert isinstance(output, S3Output)
    return output


def test_defaults() -> None:
    output = s3()
    assert output.key_template == DEFAULT_KEY_TEMPLATE
    assert output.credentials_secret_ref is None
    assert output.presign_seconds is None
    template = KeyTemplate.parse(output.key_template)
    assert (
        template.key("", "shop", "daily", WINDOW, "md") == "shop/daily/2026/11/21/060000/report.md"
    )


def test_prefix_is_a_folder() -> None:
    assert s3(prefix="/team/reports/").prefix == "team/reports"
    template = KeyTemplate.parse(DEFAULT_KEY_TEMPLATE)
    key = template.key("team/reports", "shop", "daily", WINDOW, "html")
    assert key == "team/reports/shop/daily/2026/11/21/060000/report.html"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{namespace}/{schedule}/{window.start.__class__}/{ext}", "unknown field"),
        ("{namespace}/{schedule}/{window.start[0]}/{ext}", "unknown field"),
        ("{namespace}/{schedule}/{window}/{ext}", "unknown field"),
        ("{namespace}/{schedule}/{window.start:%A}/{ext}", "%A is not allowed"),
        ("{namespace}/{schedule}/{window.start:%c}/{ext}", "%c is not allowed"),
        ("{namespace}/{schedule}/{window.start:%%Y}/{ext}", "% is not allowed"),
        ("{namespace}/{schedule}/{window.start:day}/{ext}", "needs at least one %-directive"),
        ("{namespace}/{schedule}/{window.start:%Y}/{ext!r}", "conversions are not allowed"),
        ("{namespace}/{schedule:>10}/{window.start:%Y}/{ext}", "takes no format"),
        ("{namespace}/{schedule}/{window.start:%Y}/r {ext}", "may contain only"),
        ("{namespace}/{schedule}/{window.start:%Y}/../{ext}", "may not contain . or .."),
        ("/{namespace}/{schedule}/{window.start:%Y}/{ext}", "must not start with /"),
        ("{namespace}//{schedule}/{window.start:%Y}/{ext}", "empty path segments"),
        ("{namespace}/{schedule}/{window.start:%Y}/{ext}{", "not a template"),
        ("{schedule}/{window.start}/{ext}", "must contain {namespace}"),
        ("{namespace}/{window.start}/{ext}", "must contain {schedule}"),
        ("{namespace}/{schedule}/{window.start}", "must contain {ext}"),
        ("{namespace}/{schedule}/report.{ext}", "must contain {window.start} or {window.end}"),
    ],
)
def test_bad_templates_are_refused_naming_the_field(template: str, message: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        s3(keyTemplate=template)
    assert caught.value.field == "spec.outputs[0].s3.keyTemplate"
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bucket": "Reports"}, "spec.outputs[0].s3.bucket"),
        ({"bucket": "r"}, "spec.outputs[0].s3.bucket"),
        ({"prefix": "a b"}, "spec.outputs[0].s3.prefix"),
        ({"prefix": "a/../b"}, "spec.outputs[0].s3.prefix"),
        ({"endpoint": "ftp://store"}, "spec.outputs[0].s3.endpoint"),
        ({"endpoint": "https://key:secret@store"}, "spec.outputs[0].s3.endpoint"),
        ({"presignSeconds": 7 * 86400 + 1}, "spec.outputs[0].s3.presignSeconds"),
        ({"presignSeconds": 0}, "spec.outputs[0].s3.presignSeconds"),
        ({"keep": 0}, "spec.outputs[0].s3.keep"),
        ({"maxAgeDays": 0}, "spec.outputs[0].s3.maxAgeDays"),
        (
            {"credentialsSecretRef": {"name": "../x"}},
            "spec.outputs[0].s3.credentialsSecretRef.name",
        ),
        (
            {"credentialsSecretRef": {"name": "x", "namespace": "kube-system"}},
            "spec.outputs[0].s3.credentialsSecretRef.namespace",
        ),
        ({"serverSideEncryption": {"type": "DES"}}, "spec.outputs[0].s3.serverSideEncryption.type"),
        (
            {"serverSideEncryption": {"type": "AES256", "kmsKeyId": "k"}},
            "spec.outputs[0].s3.serverSideEncryption",
        ),
    ],
)
def test_bad_s3_fields_are_refused(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec_with({"s3": {"bucket": "reports", **fields}}))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "output",
    [{}, {"configMap": {}, "s3": {"bucket": "reports"}}],
)
def test_each_output_has_exactly_one_kind(output: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec, match="exactly one kind: configMap or s3"):
        parse_spec(spec_with(output))


def test_configmap_options_are_bounded() -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(spec_with({"configMap": {"keep": 0}}))
    assert caught.value.field == "spec.outputs[0].configMap.keep"
    parsed = parse_spec(spec_with({"configMap": {"keep": 3, "latest": True}})).outputs[0]
    assert parsed.kind == "configMap"
    assert parsed.config == ConfigMapOutput(keep=3, latest=True)


def test_encryption_parameters() -> None:
    assert _encryption(s3()) == {}
    assert _encryption(s3(serverSideEncryption={"type": "AES256"})) == {
        "ServerSideEncryption": "AES256"
    }
    kms = s3(serverSideEncryption={"type": "aws:kms", "kmsKeyId": "alias/reports"})
    assert _encryption(kms) == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/reports"}


def test_keys_match_back_only_for_this_schedule() -> None:
    template = KeyTemplate.parse("{namespace}/{schedule}/{window.start:%Y/%m/%d}/report.{ext}")
    pattern = template.matcher("team", "shop", "daily", EXTENSIONS.values())
    assert template.listing_prefix("team", "shop", "daily") == "team/shop/daily/"
    key = template.key("team", "shop", "daily", WINDOW, "json")
    assert pattern.match(key)
    for foreign in [
        "other/shop/daily/2026/11/21/report.md",
        "team/shop/daily-2/2026/11/21/report.md",
        "team/payments/daily/2026/11/21/report.md",
        "team/shop/daily/2026/11/21/report.pdf",
        "team/shop/daily/2026/11/21/report.md.bak",
        "team/shop/daily/2026/11/report.md",
        "team/shop/daily/notes.md",
        "team/shop/daily/2026/11/21/report.md\n",
    ]:
        assert pattern.match(foreign) is None, foreign


def test_windows_sort_by_their_start_whatever_the_layout() -> None:
    template = KeyTemplate.parse("{namespace}-{schedule}-{window.start:%d.%m.%Y-%H}.{ext}")
    pattern = template.matcher("", "shop", "daily", ["md"])
    starts = [WINDOW.start + timedelta(hours=h) for h in (0, 30, 24 * 40, 24 * 400, 5)]
    keys = [template.key("", "shop", "daily", Window(s, s), "md") for s in starts]
    matches = [match for key in keys if (match := pattern.match(key))]
    assert len(matches) == len(keys)
    ordered = sorted(range(len(keys)), key=lambda i: template.sort_key(matches[i]))
    assert [starts[i] for i in ordered] == sorted(starts)
    # Every document of one report shares its window part.
    md = pattern.match(keys[0])
    assert md is not None
    assert template.window_of(md) == ("21", "11", "2026", "06")


def test_window_end_only_templates_sort_by_the_end() -> None:
    template = KeyTemplate.parse("{namespace}/{schedule}/{window.end}.{ext}")
    key = template.key("", "shop", "daily", WINDOW, "md")
    assert key == "shop/daily/20261122T060000Z.md"
    match = template.matcher("", "shop", "daily", ["md"]).match(key)
    assert match is not None
    assert template.sort_key(match)[0] == 2026


def test_locations() -> None:
    assert parse_location("s3://reports/a/b/report.md") == ("reports", "a/b/report.md")
    for bad in ("configmap/shop/x", "s3://reports", "s3:///key"):
        with pytest.raises(ValueError, match="not an s3://bucket/key location"):
            parse_location(bad)
