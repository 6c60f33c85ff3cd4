"""Every name the operator shares with the cluster, in one place."""

from __future__ import annotations

GROUP = "opsreport.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "ReportSchedule"
PLURAL = "reportschedules"

REPORT_SCHEMA = "opsreport.dev/report/v1"


def schedule_path(namespace: str, name: str) -> str:
    """The API path of one ReportSchedule."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}/{name}"


# Labels and annotations on what we write.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "opsreport"
LABEL_SCHEDULE = f"{GROUP}/schedule"
LABEL_WINDOW_START = f"{GROUP}/window-start"
ANNOTATION_WINDOW = f"{GROUP}/window"
ANNOTATION_GENERATED_AT = f"{GROUP}/generated-at"
ANNOTATION_FORMATS = f"{GROUP}/formats"
ANNOTATION_SHA256 = f"{GROUP}/sha256"

# Set on a ReportSchedule by a user: each distinct value runs one report for the window ending now.
ANNOTATION_RUN_NOW = f"{GROUP}/run-now"

# Condition types and reasons (CamelCase, specific; see docs/reference.md).
CONDITION_READY = "Ready"
CONDITION_DEGRADED = "Degraded"
REASON_SCHEDULED = "Scheduled"
REASON_SUSPENDED = "Suspended"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_INVALID_SCHEDULE = "InvalidSchedule"
REASON_INVALID_TIME_ZONE = "InvalidTimeZone"
REASON_REPORT_DELIVERED = "ReportDelivered"
REASON_REPORT_FAILED = "ReportFailed"
REASON_DELIVERY_FAILED = "DeliveryFailed"
REASON_TEMPLATE_RENDER_FAILED = "TemplateRenderFailed"
REASON_DATA_GAPS = "DataGaps"
REASON_COMPLETE = "Complete"
# What only the operator can judge, when the spec is applied (opsreport.checks).
REASON_NAMESPACE_NOT_ALLOWED = "NamespaceNotAllowed"
REASON_SECRET_NOT_FOUND = "SecretNotFound"  # noqa: S105  (a reason, not a secret)
REASON_SECRET_KEY_MISSING = "SecretKeyMissing"  # noqa: S105
REASON_TEMPLATE_NOT_FOUND = "TemplateNotFound"
REASON_INVALID_KPI_QUERY = "InvalidKpiQuery"
CONDITION_WARNING = "Warning"  # True: the spec works, but its reports will miss something
REASON_WINDOW_EXCEEDS_RETENTION = "WindowExceedsRetention"
REASON_SELECTOR_MATCHES_NOTHING = "SelectorMatchesNothing"
REASON_NO_WARNINGS = "NoWarnings"
