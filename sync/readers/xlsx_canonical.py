"""A sheet's XML rewritten, row by row, in the one form `xlsx_stream` reads.

The streamed reader splits the sheet's text by its element markers; XML it does not
handle (a namespace prefix, `<x:c>`; CDATA; single-quoted attributes) was left to
calamine, which reads such a sheet with none of the streamed reader's care (a formula
saved without its value is an empty cell there, a number cell holding text is text).
Here a real XML parser reads the sheet, and each row is written again without a
prefix, with double-quoted attributes and escaped text, so the streamed reader reads
it, and the same cell reads the same in any spelling.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator

_WINDOW_CHARS = 1 << 20
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
# The attributes the streamed reader reads, in the order it reads them fastest.
_KEPT = ("r", "s", "t")


class NotXml(ValueError):
    """The sheet's XML is not well formed (the caller reads it another way)."""


def canonical_windows(archive: zipfile.ZipFile, part: str) -> Iterator[str]:
    """The sheet's XML as `<worksheet><sheetData>` rows `</sheetData>` merged ranges
    `</worksheet>`, in windows of about a megabyte that each end after a `</row>` (the
    last after `</worksheet>`). Raises NotXml where the XML is not well formed."""
    pending = ["<worksheet><sheetData>"]
    size = 0
    merges: list[str] = []
    sheet_data: ET.Element | None = None
    with archive.open(part) as handle:
        try:
            for event, node in ET.iterparse(handle, events=("start", "end")):
                name = _local(node.tag)
                if event == "start":
                    if name == "sheetData":
                        sheet_data = node
                    continue
                if name == "row" and sheet_data is not None:
                    text = _xml(node)
                    pending.append(text)
                    size += len(text)
                    sheet_data.clear()  # rows written are dropped: memory stays one row
                    if size >= _WINDOW_CHARS:
                        yield "".join(pending)
                        pending, size = [], 0
                elif name == "mergeCell":
                    merges.append(_escaped(node.get("ref") or ""))
        except ET.ParseError as exc:
            raise NotXml(str(exc)) from None
    pending.append("</sheetData>")
    pending.extend(f'<mergeCell ref="{ref}"/>' for ref in merges)
    pending.append("</worksheet>")
    yield "".join(pending)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml(node: ET.Element) -> str:
    """`node` and its children without namespaces; a leaf's text escaped (a container's
    text is the file's indentation)."""
    name = _local(node.tag)
    attrs = "".join(f' {key}="{_escaped(node.get(key) or "")}"'
                    for key in _KEPT if node.get(key) is not None)
    if node.get(_XML_SPACE) is not None:
        attrs += f' xml:space="{_escaped(node.get(_XML_SPACE) or "")}"'
    inner = "".join(_xml(child) for child in node) if len(node) else _escaped(node.text or "")
    return f"<{name}{attrs}>{inner}</{name}>"


def _escaped(text: str) -> str:
    # A carriage return the file escaped (&#13;) is one the cell holds: it stays one.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;"))
