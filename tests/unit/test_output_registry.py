"""The output kinds are listed twice (spec models in `model`, behaviour in `deliver`) and once more
in the CRD's one-of rule: all three name the same kinds."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import opsreport.model
from opsreport.deliver.registry import OUTPUTS
from opsreport.model.outputs import OUTPUT_SPECS, kind_list
from opsreport.validate import load_crd

STATUS_TYPE_MAX = 32  # status.lastReport.outputs[].type's maxLength in the CRD


def crd_output_item() -> dict[str, Any]:
    (version,) = load_crd()["spec"]["versions"]
    item: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "outputs"
    ]["items"]
    return item


def test_the_deliver_registry_and_the_spec_name_the_same_kinds() -> None:
    assert list(OUTPUTS) == list(OUTPUT_SPECS)
    for kind, output in OUTPUTS.items():
        assert output.kind == kind
        assert output.spec is OUTPUT_SPECS[kind]
        assert len(kind) <= STATUS_TYPE_MAX


def test_the_crd_one_of_names_exactly_the_registered_kinds() -> None:
    item = crd_output_item()
    assert set(item["properties"]) == set(OUTPUTS)
    (rule,) = item["x-kubernetes-validations"]
    assert set(re.findall(r"has\(self\.(\w+)\)", rule["rule"])) == set(OUTPUTS)
    assert all(kind in rule["message"] for kind in OUTPUTS)


def test_kinds_are_listed_as_messages_say_them() -> None:
    assert kind_list(["configMap"]) == "configMap"
    assert kind_list(["configMap", "s3"]) == "configMap or s3"
    assert kind_list(["a", "b", "c"]) == "a, b or c"


def test_the_model_layer_imports_no_layer_above_it() -> None:
    """The spec judges outputs and PromQL with model/ modules only, and the assessment formats
    with model/numbers.py: the registries and the layers stay one-way."""
    forbidden = ("opsreport.collect", "opsreport.deliver", "opsreport.render")
    found = []
    for path in Path(opsreport.model.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert found == []
