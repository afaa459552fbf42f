"""What an uploaded file really is, decided by its content, never by its name or by what the
browser claims (SPEC 3.1); and what the portal keeps of it.

* The type comes from the first bytes (magic numbers), and must then decode as that type:
  PDF (opened and its first page rendered by PDFium), JPEG, PNG, HEIC/HEIF (libheif).
* Images are decoded and encoded again: what is stored has no EXIF, GPS, XMP, ICC profile
  or text chunks, only pixels (turned upright first, since the EXIF orientation goes too).
  HEIC/HEIF photos are stored as JPEG, which every clinic computer opens. Images larger than
  IMAGE_MAX_EDGE on a side are scaled down; images with more than DOCUMENT_MAX_PIXELS
  pixels are refused before they are decoded (decompression bombs).
* PDFs are stored as uploaded, unless they can do anything besides showing their pages:
  JavaScript, launch actions, forms that send data, a web address opened on its own,
  embedded files, rich media, XFA forms, encryption are REFUSED, not flagged. Why: the
  file will be opened by staff in a desktop PDF reader, where scripts run; a clearance
  letter never needs them; and the patient has a simple alternative (a photo of the
  letter, or "print to PDF"). A flag would still put the file in front of staff. The PDF
  is judged by its structure, every object qpdf reads from it walked in a process of its
  own with capped memory and time (pdfscan.py); its image and font data are never read as
  text. PDFium is asked about document JavaScript and XFA again as it renders the preview.
* Every kept file gets a JPEG preview (images scaled; PDFs as their first page), so staff
  can look without opening the file.

Two steps: ``receive`` is what the upload request checks (size, and the type by the first
bytes, while hashing the bytes), and ``prepare`` is everything, run by the background worker
on the stored original (portal.documents.checks). The work on pixels is in images.py, the
judgement of PDFs in pdfscan.py, their preview in pdf.py; every refusal is raised here, a
PDF's with the reason pdfscan gives.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import IO, BinaryIO

from portal.documents import images, pdf, pdfscan
from portal.documents.images import IMAGE_MAX_EDGE, fit, scale_bands, working_mode

__all__ = ["HEIF", "IMAGE_MAX_EDGE", "JPEG", "PDF", "PNG", "Prepared", "Received", "Refused",
           "display_name", "download_name", "fit", "prepare", "receive", "scale_bands",
           "sniff", "working_mode"]

PDF, JPEG, PNG, HEIF = "application/pdf", "image/jpeg", "image/png", "image/heic"

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                b"mif1", b"msf1", b"mif2"}
_PIL_FORMAT = {JPEG: "JPEG", PNG: "PNG", HEIF: "HEIF"}
_EXTENSION = {PDF: "pdf", JPEG: "jpg", PNG: "png"}


class Refused(Exception):
    """A file the portal will not keep; ``code`` picks the message shown by the field."""

    def __init__(self, code: str, **params):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Prepared:
    original_name: str
    original_type: str
    content_type: str
    content: IO[bytes]  # what will be stored, at position 0
    size: int
    sha256: str
    preview: bytes

    @property
    def download_name(self) -> str:
        return download_name(self.original_name, self.content_type)


# --- names ----------------------------------------------------------------------------

def display_name(name: str | None, limit: int = 200) -> str:
    """The device's file name, made safe to show: last path part only, no control or
    direction-changing characters, at most ``limit`` characters (extension kept). It is
    display metadata; nothing is ever stored under it."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp"))
    name = " ".join(name.split()).strip(" .")
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[:limit - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:limit]
    return name or "document"


def download_name(original_name: str, content_type: str) -> str:
    """The name a download is offered under: the original stem with the extension of what
    is really stored (a HEIC photo comes back as .jpg)."""
    stem = original_name.rsplit(".", 1)[0] if "." in original_name else original_name
    stem = stem.strip(" .") or "document"
    return f"{stem}.{_EXTENSION[content_type]}"


# --- type by content --------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[4:8] == b"ftyp":
        box_size = int.from_bytes(head[0:4], "big")
        brands = {head[8:12]}
        end = min(box_size, len(head))
        brands.update(head[i:i + 4] for i in range(16, end - 3, 4))
        if head[8:12] in _HEIF_BRANDS or brands & (_HEIF_BRANDS - {b"mif1", b"msf1", b"mif2"}):
            return HEIF
    return None


def _size(stream: BinaryIO) -> int:
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def prepare(stream: BinaryIO, filename: str | None, *, max_bytes: int,
            max_pixels: int) -> Prepared:
    """Check an upload and turn it into what is stored; Refused says why not."""
    name = display_name(filename)
    size = _size(stream)
    if size == 0:
        raise Refused("empty", name=name)
    if size > max_bytes:
        raise Refused("too_big", name=name, mb=_mb(max_bytes))
    kind = sniff(stream.read(64))
    stream.seek(0)
    if kind is None:
        raise Refused("type", name=name)
    if kind == PDF:
        return _prepare_pdf(stream, name)
    return _prepare_image(stream, name, kind, max_pixels)


@dataclass
class Received:
    """What the upload request knows of a file before the worker checks it."""
    original_name: str
    original_type: str  # by its first bytes
    content_type: str  # what will be stored if the check keeps it
    size: int
    sha256: str  # of the bytes as uploaded


def receive(stream: BinaryIO, filename: str | None, *, max_bytes: int) -> Received:
    """The checks made in the upload request, reading the file once a chunk at a time:
    empty, too large, or not a PDF, JPEG, PNG or HEIC by its first bytes. Everything else
    (decoding, active content, the preview) is the worker's ``prepare``."""
    name = display_name(filename)
    stream.seek(0)
    head = stream.read(64)
    digest = hashlib.sha256(head)
    size = len(head)
    while size <= max_bytes and (chunk := stream.read(1024 * 1024)):
        digest.update(chunk)
        size += len(chunk)
    stream.seek(0)
    if size == 0:
        raise Refused("empty", name=name)
    if size > max_bytes:
        raise Refused("too_big", name=name, mb=_mb(max_bytes))
    kind = sniff(head)
    if kind is None:
        raise Refused("type", name=name)
    stored = {PDF: PDF, PNG: PNG}.get(kind, JPEG)  # HEIF photos are kept as JPEG
    return Received(original_name=name, original_type=kind, content_type=stored, size=size,
                    sha256=digest.hexdigest())


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def _digest(stream: IO[bytes]) -> tuple[str, int]:
    h = hashlib.sha256()
    stream.seek(0)
    total = 0
    while chunk := stream.read(1024 * 1024):
        h.update(chunk)
        total += len(chunk)
    stream.seek(0)
    return h.hexdigest(), total


# --- kept as what is stored ---------------------------------------------------------------

def _prepare_image(stream: BinaryIO, name: str, kind: str, max_pixels: int) -> Prepared:
    try:
        image = images.decode(stream, _PIL_FORMAT[kind], max_pixels)
    except images.TooManyPixels:
        raise Refused("pixels", name=name) from None
    except images.Undecodable:
        raise Refused("unreadable", name=name) from None
    stored_type = PNG if kind == PNG else JPEG
    out, preview = images.encode(image, _PIL_FORMAT[stored_type])
    sha256, size = _digest(out)
    return Prepared(original_name=name, original_type=kind, content_type=stored_type,
                    content=out, size=size, sha256=sha256, preview=preview)


def _prepare_pdf(stream: BinaryIO, name: str) -> Prepared:
    data = stream.read()  # the one time the upload is whole in memory (PDFium needs it)
    reason = pdfscan.scan(data)
    if reason is not None:
        raise Refused(reason, name=name)
    try:
        rendered = pdf.first_page(data, images.PREVIEW_BOX)
    except pdf.Encrypted:
        raise Refused(pdfscan.PASSWORD, name=name) from None
    except pdf.Scripted:
        raise Refused(pdfscan.SCRIPTS, name=name) from None
    except pdf.Unreadable:
        raise Refused("unreadable", name=name) from None
    preview = images.preview(rendered)
    sha256 = hashlib.sha256(data).hexdigest()
    size = len(data)
    del data
    stream.seek(0)
    return Prepared(original_name=name, original_type=PDF, content_type=PDF, content=stream,
                    size=size, sha256=sha256, preview=preview)
