"""`opsreport`: render | validate | operator. Thin: parse arguments, call the library, exit."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from opsreport import __version__, api, logs
from opsreport.collect.access import settings_for
from opsreport.config import OperatorConfig
from opsreport.deliver.base import ScheduleIdentity
from opsreport.kube import connect
from opsreport.kubeauth import KubeAuthError
from opsreport.model.spec import InvalidSpec, parse_spec
from opsreport.pipeline import ReportRequest, Sources, collect_report
from opsreport.reconcile import window_ending
from opsreport.render.documents import Document, RenderError, render_documents
from opsreport.scheduling import parse_rfc3339
from opsreport.user_templates import load_custom_template


class UsageError(Exception):
    """A one-line message for the user; the command exits non-zero."""


def _load_schedule(path: Path) -> dict[str, Any]:
    try:
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: cannot read: {error}") from None
    schedules = [d for d in documents if isinstance(d, dict) and d.get("kind") == api.KIND]
    if len(schedules) != 1:
        raise UsageError(f"{path}: expected exactly one {api.KIND}, found {len(schedules)}")
    return schedules[0]


def _at(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise UsageError(f"--at: {text!r} is not an RFC 3339 time") from None


async def _render(args: argparse.Namespace) -> list[Document]:
    body = _load_schedule(Path(args.file))
    meta = body.get("metadata") or {}
    try:
        spec = parse_spec(body.get("spec"))
    except InvalidSpec as error:
        raise UsageError(f"{args.file}: {error}") from None
    at = _at(args.at)
    identity = ScheduleIdentity(meta.get("namespace") or "default", meta.get("name") or "report")
    request = ReportRequest(identity, spec, window_ending(spec, at))
    prometheus = spec.prometheus
    if args.prometheus_url:
        prometheus = prometheus.model_copy(update={"url": args.prometheus_url})
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    try:
        kube = await connect(kubeconfig) if kubeconfig else None
    except KubeAuthError as error:
        raise UsageError(f"--kubeconfig: {error}") from None
    try:
        # The same settings as the operator: the schedule's credentials, TLS, headers and Thanos.
        sources = Sources(kube=kube, prometheus=settings_for(prometheus, default_url=None))
        report = await collect_report(request, sources, lambda: datetime.now(UTC))
        custom = None
        if spec.template.config_map_ref is not None:
            if kube is None:
                raise UsageError("spec.template.configMapRef: reading it needs --kubeconfig")
            custom = await load_custom_template(kube, identity.namespace, spec.template)
    except RenderError as error:
        raise UsageError(f"template: {error}") from None
    finally:
        if kube is not None:
            await kube.close()
    try:
        return render_documents(
            report, spec.template.name, spec.formats, top_n=spec.template.top_n, custom=custom
        )
    except RenderError as error:
        raise UsageError(f"template: {error}") from None


def _write(documents: list[Document], directory: str) -> int:
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for document in documents:
        (out / document.filename).write_text(document.content, encoding="utf-8")
        print(out / document.filename)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from opsreport.validate import validate_paths  # jsonschema is only needed here

    names = [*(args.file or []), *args.files]
    if not names:
        raise UsageError("validate: name at least one FILE or DIR (-f FILE, or positionally)")
    result = validate_paths(names)
    for problem in result.problems:
        print(problem)
    verdict = "invalid" if result.problems else "valid"
    print(
        f"opsreport: {result.schedules} {api.KIND}(s) in {result.files} file(s): {verdict}",
        file=sys.stderr,
    )
    return 0 if result.ok else 1


def _operator(args: argparse.Namespace) -> int:
    import kopf  # only the operator command needs kopf loaded

    import opsreport.handlers  # noqa: F401  (registers the handlers)

    overrides = {
        "OPSREPORT_PROMETHEUS_URL": args.prometheus_url,
        "OPSREPORT_MAX_CONCURRENT_REPORTS": str(args.max_concurrent_reports)
        if args.max_concurrent_reports
        else None,
        "OPSREPORT_PEERING": args.peering,
        "OPSREPORT_LOG_FORMAT": args.log_format,
        "OPSREPORT_METRICS_PORT": str(args.metrics_port) if args.metrics_port is not None else None,
    }
    os.environ.update({key: value for key, value in overrides.items() if value})
    config = OperatorConfig.from_env()
    kopf.configure(
        log_format=kopf.LogFormat.JSON if config.log_format == "json" else kopf.LogFormat.FULL,
        verbose=args.verbose,
    )
    logs.install(config.log_format)  # each line of a run names its schedule and run id
    namespaces = args.namespace or list(config.namespaces)
    kopf.run(
        standalone=config.peering is None,
        peering_name=config.peering,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=args.liveness or config.liveness_endpoint,
        # Peers with equal priority all pause in kopf; a random one makes exactly one active.
        priority=secrets.randbelow(2**31) if config.peering else 0,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsreport", description=__doc__)
    parser.add_argument("--version", action="version", version=f"opsreport {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    render = commands.add_parser("render", help="render one report without the operator")
    render.add_argument("-f", "--file", required=True, help="a ReportSchedule manifest")
    render.add_argument("--kubeconfig", help="read pods through this kubeconfig")
    render.add_argument("--prometheus-url", help="overrides spec.prometheus.url")
    render.add_argument("--at", help="render as if the schedule fired at this RFC 3339 time")
    render.add_argument("-o", "--output", required=True, help="directory for report.* files")

    validate = commands.add_parser(
        "validate",
        help="check ReportSchedule files offline",
        description="Check every ReportSchedule against the CRD's schema and opsreport's own "
        "rules (cron, time zone, window). Other documents are ignored; a DIR is searched for "
        "*.yaml and *.yml. Prints file:path: message per problem; exits 1 if there is any.",
    )
    validate.add_argument(
        "-f", "--file", action="extend", nargs="+", metavar="FILE|DIR", help="repeatable"
    )
    validate.add_argument("files", nargs="*", metavar="FILE|DIR")

    show = commands.add_parser(
        "show",
        help="print or open a stored report",
        description="Fetch a schedule's latest report (or the one for --window) from its "
        "ConfigMap or S3 output and print it, or open the HTML in a browser.",
    )
    show.add_argument("schedule", help="the ReportSchedule's name")
    show.add_argument("-n", "--namespace", help="default the kubeconfig context's namespace")
    show.add_argument("--window", metavar="START", help="the window's start, RFC 3339")
    show.add_argument("--format", choices=["md", "html", "json"], help="default md")
    show.add_argument("--open", action="store_true", help="open the HTML report in a browser")
    show.add_argument("--kubeconfig", help="default $KUBECONFIG or ~/.kube/config")

    run = commands.add_parser("operator", help="run the operator")
    run.add_argument("--prometheus-url", help="default when a schedule names none")
    run.add_argument("-n", "--namespace", action="append", help="watch only these (repeatable)")
    run.add_argument("--peering", help="kopf peering name for several replicas; default standalone")
    run.add_argument("--max-concurrent-reports", type=int, help="cap across all schedules")
    run.add_argument("--liveness", help="liveness endpoint, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--log-format", choices=["json", "plain"])
    run.add_argument(
        "--metrics-port", type=int, help="Prometheus metrics on this port (default 9090; 0: off)"
    )
    run.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "render":
            return _write(asyncio.run(_render(args)), args.output)
        if args.command == "validate":
            return _validate(args)
        if args.command == "show":
            from opsreport.show import run as show_report  # boto3 is only needed here

            return show_report(args)
        return _operator(args)
    except UsageError as error:
        print(f"opsreport: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
