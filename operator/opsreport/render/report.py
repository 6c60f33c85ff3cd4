"""Render ReportData into documents, one per format."""

from __future__ import annotations

import json
from dataclasses import dataclass

from jinja2 import TemplateError

from opsreport.model.report import ReportData
from opsreport.render.environment import environment
from opsreport.render.summary import summary_sentences

EXTENSIONS = {"markdown": "md", "html": "html", "json": "json"}
CONTENT_TYPES = {
    "markdown": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}


class RenderError(Exception):
    """A template failed; the message names the template and line."""


@dataclass(frozen=True)
class Document:
    format: str
    content: str

    @property
    def filename(self) -> str:
        return f"report.{EXTENSIONS[self.format]}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]


def render_documents(
    report: ReportData, template: str, formats: tuple[str, ...], *, top_n: int = 10
) -> list[Document]:
    documents = []
    context = {"report": report, "summary": summary_sentences(report), "top_n": top_n}
    for fmt in formats:
        if fmt == "json":
            content = json.dumps(report.to_json_dict(), indent=2, sort_keys=False) + "\n"
        else:
            name = f"{template}/report.{EXTENSIONS[fmt]}.j2"
            try:
                content = environment().get_template(name).render(context)
            except TemplateError as error:
                line = getattr(error, "lineno", None)
                where = f"{name}:{line}" if line else name
                raise RenderError(f"{where}: {error}") from None
        documents.append(Document(fmt, content))
    return documents
