"""Just enough HTML parsing for the tests (the standard library's parser, no new dependency)."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""  # direct and nested text, for <script> and <style>
    children: list[Element] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if self._open:
            self._open[-1].children.append(element)
        if tag not in VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if self._open:
            self._open[-1].children.append(element)

    def handle_endtag(self, tag):
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i].tag == tag:
                del self._open[i:]
                break

    def handle_data(self, data):
        for element in self._open:
            element.text += data


class Document:
    def __init__(self, html: str):
        parser = _Parser()
        parser.feed(html)
        parser.close()
        self.elements = parser.elements

    def find_all(self, tag: str | None = None, **attrs) -> list[Element]:
        """Elements with ``tag`` whose attributes equal ``attrs`` (``class_`` for class)."""
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements
                if (tag is None or e.tag == tag)
                and all(e.attrs.get(k) == v for k, v in wanted.items())]

    def by_id(self, element_id: str) -> Element | None:
        found = self.find_all(id=element_id)
        assert len(found) <= 1, f"id {element_id!r} is used {len(found)} times"
        return found[0] if found else None


def parse(html: str) -> Document:
    return Document(html)
