"""What a PDF hides besides its pages, and its first page as a picture.

Active content (JavaScript, launch actions, embedded files, rich media, XFA forms) is
looked for twice: in the PDF's names (with #xx escapes decoded), read from the file and from
inside its compressed object streams; and by asking PDFium about document JavaScript and
XFA. Why a PDF carrying any of it is refused rather than flagged: content.py.

Each way a PDF fails is an exception of its own here; content.py says what the patient is
told.
"""
from __future__ import annotations

import re
import zlib

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

# PDF names that mean active content; compared after #xx escapes are decoded.
_ACTIVE_NAMES = {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles",
                 b"RichMedia", b"XFA", b"ImportData", b"SubmitForm"}
_PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+\-]|#[0-9A-Fa-f]{2})+)")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_MAX_INFLATED = 64 * 1024 * 1024


class Unchecked(Exception):
    """An object stream that cannot be looked inside: an unusual encoding, no end, or more
    than _MAX_INFLATED bytes once inflated."""


class Encrypted(Exception):
    """PDFium needs a password to open it."""


class Scripted(Exception):
    """PDFium finds document JavaScript or an XFA form."""


class Unreadable(Exception):
    """PDFium cannot open it, or it has no first page to show."""


def _names(data: bytes) -> set[bytes]:
    found = set()
    for match in _PDF_NAME.finditer(data):
        raw = match.group(1)
        if b"#" in raw:
            raw = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
        found.add(raw)
    return found


def _object_streams(data: bytes):
    """The decompressed content of each object stream (/Type /ObjStm), where PDF 1.5+ keeps
    dictionaries that a scan of the file alone would miss."""
    total = 0
    for match in _STREAM.finditer(data):
        head = data[max(0, match.start() - 4096):match.start()]
        cut = head.rfind(b"obj")
        names = _names(head[cut + 3:] if cut >= 0 else head)
        if b"ObjStm" not in names:
            continue
        start = match.end()
        end = data.find(b"endstream", start)
        if end < 0:
            raise Unchecked
        filters = names & {b"FlateDecode", b"Fl", b"ASCIIHexDecode", b"AHx", b"ASCII85Decode",
                           b"A85", b"LZWDecode", b"LZW", b"RunLengthDecode", b"RL", b"Crypt"}
        if not filters:
            yield data[start:end]
            continue
        if filters - {b"FlateDecode", b"Fl"} or b"Predictor" in names:
            raise Unchecked  # an unusual encoding: cannot look inside
        try:
            out = zlib.decompressobj().decompress(data[start:end], _MAX_INFLATED - total + 1)
        except zlib.error:
            raise Unchecked from None
        total += len(out)
        if total > _MAX_INFLATED:
            raise Unchecked
        yield out


def active_content(data: bytes) -> set[str]:
    """The active-content names in a PDF (empty for a plain document); Unchecked when an
    object stream cannot be looked inside."""
    names = _names(data)
    for inner in _object_streams(data):
        names |= _names(inner)
    return {n.decode() for n in names & _ACTIVE_NAMES}


def first_page(data: bytes, box: tuple[int, int]) -> Image.Image:
    """The first page rendered to fit ``box`` (between 0.05 and 3 times its size), without
    its form fields; Encrypted, Scripted or Unreadable when PDFium will not show it."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise Encrypted from None
        raise Unreadable from None
    try:
        if pdfium_c.FPDFDoc_GetJavaScriptActionCount(document.raw) > 0 or \
                pdfium_c.FPDF_GetFormType(document.raw) in (pdfium_c.FORMTYPE_XFA_FULL,
                                                            pdfium_c.FORMTYPE_XFA_FOREGROUND):
            raise Scripted
        if len(document) < 1:
            raise Unreadable
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise Unreadable
        scale = max(0.05, min(box[0] / width, box[1] / height, 3.0))
        rendered = page.render(scale=scale, may_draw_forms=False).to_pil()
        page.close()
    except (Scripted, Unreadable):
        raise
    except Exception:
        raise Unreadable from None
    finally:
        document.close()
    return rendered
