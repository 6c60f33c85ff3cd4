"""Print the JSON Schema of the `opsreport.dev/report/v1` document (`make schema`)."""

from __future__ import annotations

import json
from typing import Any

from opsreport.api import REPORT_SCHEMA
from opsreport.model.report import ReportData


def report_json_schema() -> dict[str, Any]:
    schema = ReportData.model_json_schema(by_alias=True, mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://{REPORT_SCHEMA}.schema.json"
    schema["properties"]["schema"]["const"] = REPORT_SCHEMA
    return schema


def main() -> None:
    print(json.dumps(report_json_schema(), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
