"""What an uploaded file really is, decided by its content, never by its name or by what the
browser claims (SPEC 3.1); and what the portal keeps of it.

* The type comes from the first bytes (magic numbers), and must then decode as that type:
  PDF (opened and its first page rendered by PDFium), JPEG, PNG, HEIC/HEIF (libheif).
* Images are decoded and encoded again: what is stored has no EXIF, GPS, XMP, ICC profile
  or text chunks, only pixels (turned upright first, since the EXIF orientation goes too).
  HEIC/HEIF photos are stored as JPEG, which every clinic computer opens. Images larger than
  IMAGE_MAX_EDGE on a side are scaled down; images with more than DOCUMENT_MAX_PIXELS
  pixels are refused before they are decoded (decompression bombs).
* PDFs are stored as uploaded, unless they carry active content: JavaScript, launch
  actions, embedded files, rich media or XFA forms are REFUSED, not flagged. Why: the file
  will be opened by staff in a desktop PDF reader, where scripts run; a clearance letter
  never needs them; and the patient has a simple alternative (a photo of the letter, or
  "print to PDF"). A flag would still put the file in front of staff. The check reads the
  PDF's names (with #xx escapes decoded) in the file and inside its compressed object
  streams, and asks PDFium about document JavaScript and XFA.
* Every kept file gets a JPEG preview (images scaled; PDFs as their first page), so staff
  can look without opening the file.
"""
from __future__ import annotations

import hashlib
import io
import re
import tempfile
import unicodedata
import warnings
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import pillow_heif
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

PDF, JPEG, PNG, HEIF = "application/pdf", "image/jpeg", "image/png", "image/heic"
IMAGE_MAX_EDGE = 4096
PREVIEW_BOX = (1200, 1600)
PREVIEW_QUALITY = 80
SPOOL = 1024 * 1024  # stored content beyond this goes to a temporary file, not memory

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
                b"mif1", b"msf1", b"mif2"}
_PIL_FORMAT = {JPEG: "JPEG", PNG: "PNG", HEIF: "HEIF"}
_EXTENSION = {PDF: "pdf", JPEG: "jpg", PNG: "png"}

# PDF names that mean active content; compared after #xx escapes are decoded.
_ACTIVE_NAMES = {b"JavaScript", b"JS", b"Launch", b"EmbeddedFile", b"EmbeddedFiles",
                 b"RichMedia", b"XFA", b"ImportData", b"SubmitForm"}
_PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+\-]|#[0-9A-Fa-f]{2})+)")
_STREAM = re.compile(rb">>\s*stream\r?\n")
_MAX_INFLATED = 64 * 1024 * 1024


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
    content: BinaryIO  # what will be stored, at position 0
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


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def _digest(stream: BinaryIO) -> tuple[str, int]:
    h = hashlib.sha256()
    stream.seek(0)
    total = 0
    while chunk := stream.read(1024 * 1024):
        h.update(chunk)
        total += len(chunk)
    stream.seek(0)
    return h.hexdigest(), total


# --- images -----------------------------------------------------------------------------

def _prepare_image(stream: BinaryIO, name: str, kind: str, max_pixels: int) -> Prepared:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(stream, formats=[_PIL_FORMAT[kind]])
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise Refused("pixels", name=name)
            if kind == JPEG:
                # Decode at a reduced scale when the result would be scaled down anyway.
                image.draft("RGB", (IMAGE_MAX_EDGE, IMAGE_MAX_EDGE))
            image.load()
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("pixels", name=name) from None
    except Exception:  # any decoder failure: not really that kind of image
        raise Refused("unreadable", name=name) from None

    image = ImageOps.exif_transpose(image)
    if max(image.size) > IMAGE_MAX_EDGE:
        image.thumbnail((IMAGE_MAX_EDGE, IMAGE_MAX_EDGE), Image.Resampling.LANCZOS)
    # Pixels only: EXIF, GPS, XMP, ICC, comments and text chunks all stay behind.
    keep = {k: image.info[k] for k in ("transparency",) if k in image.info}
    image.info = keep

    stored_type = PNG if kind == PNG else JPEG
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)
    if stored_type == PNG:
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG")
    else:
        if image.mode not in ("L", "RGB"):
            image = _flatten(image)
        image.save(out, "JPEG", quality=90)
    sha256, size = _digest(out)
    return Prepared(original_name=name, original_type=kind, content_type=stored_type,
                    content=out, size=size, sha256=sha256, preview=_preview(image))


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background (transparent parts of a PNG would turn black in JPEG)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _preview(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail(PREVIEW_BOX, Image.Resampling.LANCZOS)
    small = _flatten(small) if small.mode != "RGB" else small
    small.info = {}
    out = io.BytesIO()
    small.save(out, "JPEG", quality=PREVIEW_QUALITY)
    return out.getvalue()


# --- PDF --------------------------------------------------------------------------------

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
            raise Refused("pdf_unchecked")
        filters = names & {b"FlateDecode", b"Fl", b"ASCIIHexDecode", b"AHx", b"ASCII85Decode",
                           b"A85", b"LZWDecode", b"LZW", b"RunLengthDecode", b"RL", b"Crypt"}
        if not filters:
            yield data[start:end]
            continue
        if filters - {b"FlateDecode", b"Fl"} or b"Predictor" in names:
            raise Refused("pdf_unchecked")  # an unusual encoding: cannot look inside
        try:
            out = zlib.decompressobj().decompress(data[start:end], _MAX_INFLATED - total + 1)
        except zlib.error:
            raise Refused("pdf_unchecked") from None
        total += len(out)
        if total > _MAX_INFLATED:
            raise Refused("pdf_unchecked")
        yield out


def active_content(data: bytes) -> set[str]:
    """The active-content names in a PDF (empty for a plain document)."""
    names = _names(data)
    for inner in _object_streams(data):
        names |= _names(inner)
    return {n.decode() for n in names & _ACTIVE_NAMES}


def _prepare_pdf(stream: BinaryIO, name: str) -> Prepared:
    data = stream.read()  # the one time the upload is whole in memory (PDFium needs it)
    try:
        if active_content(data):
            raise Refused("pdf_active", name=name)
    except Refused as refused:
        refused.params.setdefault("name", name)
        raise
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise Refused("pdf_password", name=name) from None
        raise Refused("unreadable", name=name) from None
    try:
        if pdfium_c.FPDFDoc_GetJavaScriptActionCount(document.raw) > 0 or \
                pdfium_c.FPDF_GetFormType(document.raw) in (pdfium_c.FORMTYPE_XFA_FULL,
                                                            pdfium_c.FORMTYPE_XFA_FOREGROUND):
            raise Refused("pdf_active", name=name)
        if len(document) < 1:
            raise Refused("unreadable", name=name)
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise Refused("unreadable", name=name)
        scale = max(0.05, min(PREVIEW_BOX[0] / width, PREVIEW_BOX[1] / height, 3.0))
        rendered = page.render(scale=scale, may_draw_forms=False).to_pil()
        page.close()
    except Refused:
        raise
    except Exception:
        raise Refused("unreadable", name=name) from None
    finally:
        document.close()
    preview = _preview(rendered)
    sha256 = hashlib.sha256(data).hexdigest()
    size = len(data)
    del data
    stream.seek(0)
    return Prepared(original_name=name, original_type=PDF, content_type=PDF, content=stream,
                    size=size, sha256=sha256, preview=preview)
