"""A PDF's first page as a picture, by PDFium.

What a PDF may do besides showing its pages is judged by its structure in pdfscan.py,
before this; PDFium is asked again about document JavaScript and XFA forms on the way (a
second reader's view of the same file). Why a PDF carrying any of it is refused rather than
flagged: content.py.

Each way a PDF fails is an exception of its own here; content.py says what the patient is
told.
"""
from __future__ import annotations

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image


class Encrypted(Exception):
    """PDFium needs a password to open it."""


class Scripted(Exception):
    """PDFium finds document JavaScript or an XFA form."""


class Unreadable(Exception):
    """PDFium cannot open it, or it has no first page to show."""


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
