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

Two steps: ``receive`` is what the upload request checks (size, and the type by the first
bytes, while hashing the bytes), and ``prepare`` is everything, run by the background worker
on the stored original (portal.documents.checks).
"""
from __future__ import annotations

import hashlib
import io
import re
import tempfile
import unicodedata
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import pillow_heif
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from portal.documents import pngbands

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


# --- images -----------------------------------------------------------------------------
#
# Memory: a 49-megapixel image is 196 MB once decoded (Pillow keeps RGB in four bytes a
# pixel), so the worker never holds one whole if it can help it. JPEGs are decoded at a
# reduced scale by the decoder itself (Image.draft) when the full size would pass
# IMAGE_MAX_EDGE² pixels; large PNGs are decoded a band of rows at a time and each band
# scaled down as it comes (pngbands.py); whatever is decoded whole (HEIF, interlaced or
# 16-bit colour PNGs) is scaled down a band of output rows at a time, so no intermediate as
# large as the image exists beside it. The image is turned upright once it is small, and
# the preview is made from the scaled image, never from the full one.

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}
_ORIENTATION = 0x0112
SHRINK_BAND = 64  # output rows scaled at a time


def _prepare_image(stream: BinaryIO, name: str, kind: str, max_pixels: int) -> Prepared:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(stream, formats=[_PIL_FORMAT[kind]])
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise Refused("pixels", name=name)
            image, orientation = _decode(image, kind, stream)
    except Refused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Refused("pixels", name=name) from None
    except Exception:  # any decoder failure: not really that kind of image
        raise Refused("unreadable", name=name) from None

    if orientation in _TRANSPOSE:  # upright, now that it is small
        image = image.transpose(_TRANSPOSE[orientation])
    # Pixels only: EXIF, GPS, XMP, ICC, comments and text chunks all stay behind.
    keep: dict[str | tuple[int, int], Any] = {k: image.info[k] for k in ("transparency",)
                                              if k in image.info}
    image.info = keep

    stored_type = PNG if kind == PNG else JPEG
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - returned, open
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


def _decode(image: Image.Image, kind: str, stream: BinaryIO) -> tuple[Image.Image, int]:
    """The image decoded and no larger than IMAGE_MAX_EDGE a side (not yet upright), and its
    EXIF orientation."""
    box = (IMAGE_MAX_EDGE, IMAGE_MAX_EDGE)
    target = fit(image.size, box)
    if kind == PNG and target != image.size:
        orientation = _exif_orientation(image.info.get("exif"))
        rows = pngbands.bands(stream)
        if rows is not None:
            return scale_bands(rows, image.size, target), orientation
        stream.seek(0)
        image = Image.open(stream, formats=["PNG"])
    if kind == JPEG:
        image.draft("RGB", _draft_size(image.size))
    image.load()
    # Read once decoded: a PNG's eXIf may follow its pixels, and HEIF photos are decoded
    # upright by libheif, which then says so in the EXIF it hands over.
    orientation = image.getexif().get(_ORIENTATION, 1)
    target = fit(image.size, box)
    if target != image.size:
        image = shrink(image, target)
    return image, orientation


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """What to ask JPEG's draft mode for: the smallest of the decoder's scales (1/1, 1/2,
    1/4, 1/8) that brings the image within IMAGE_MAX_EDGE² pixels, so a 49-megapixel photo
    is decoded at 12 megapixels and scaled from there."""
    width, height = size
    for scale in (1, 2, 4, 8):
        if -(-width // scale) * -(-height // scale) <= IMAGE_MAX_EDGE ** 2:
            break
    return max(1, width // scale), max(1, height // scale)


def _exif_orientation(exif: bytes | None) -> int:
    if not exif:
        return 1
    try:
        parsed = Image.Exif()
        parsed.load(exif)
        return int(parsed.get(_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block orients nothing
        return 1


def fit(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit in ``box``, keeping its proportions."""
    width, height = size
    if width <= box[0] and height <= box[1]:
        return size
    scale = min(box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def working_mode(image: Image.Image) -> Image.Image:
    """A mode that scales smoothly (palettes and 1-bit images would be scaled by their
    nearest pixel)."""
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("L", "RGB") and "transparency" in image.info:
        return image.convert("LA" if image.mode == "L" else "RGBA")
    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        return image.convert("RGBA")
    return image


def shrink(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image.resize(size, LANCZOS)``, a band of output rows at a time: Pillow's resize
    first scales every row across into an image as tall as the source (115 MB for a
    49-megapixel image to 4096 pixels), which this never holds."""
    return scale_bands(iter([(0, image)]), image.size, size)


def scale_bands(bands: Iterator[tuple[int, Image.Image]], source: tuple[int, int],
                size: tuple[int, int]) -> Image.Image:
    """An image of ``source`` size, given as bands of rows top to bottom (first row, band),
    scaled to ``size`` as they come: only the rows the next output rows need are held."""
    width, height = source
    scale = height / size[1]
    margin = int(3 * max(scale, 1.0)) + 2  # LANCZOS reaches three (scaled) pixels out

    def rows_for(top: int) -> tuple[int, float, float, int, int]:
        bottom = min(size[1], top + SHRINK_BAND)
        y0, y1 = top * scale, min(bottom * scale, height)
        return bottom, y0, y1, max(0, int(y0) - margin), min(height, int(y1) + margin + 1)

    out: Image.Image | None = None
    window: list[tuple[int, Image.Image]] = []
    covered = top = 0
    for first, band in bands:
        if first != covered:
            raise ValueError("bands out of order")
        window.append((first, band))
        covered = first + band.height
        while top < size[1]:
            bottom, y0, y1, start, stop = rows_for(top)
            if covered < stop:
                break
            rows = working_mode(_rows(window, start, stop, width))
            if out is None:
                out = Image.new(rows.mode, size)
            out.paste(rows.resize((size[0], bottom - top), Image.Resampling.LANCZOS,
                                  box=(0, y0 - start, width, y1 - start)), (0, top))
            top = bottom
            if top < size[1]:
                keep = rows_for(top)[3]
                window = [(f, b) for f, b in window if f + b.height > keep]
    if out is None or top < size[1]:
        raise ValueError("rows missing")
    return out


def _rows(window: list[tuple[int, Image.Image]], start: int, stop: int,
          width: int) -> Image.Image:
    pieces = [(f, b) for f, b in window if f < stop and f + b.height > start]
    if len(pieces) == 1:
        first, band = pieces[0]
        return band.crop((0, start - first, width, stop - first))
    joined = Image.new(pieces[0][1].mode, (width, stop - start))
    joined.info = dict(pieces[0][1].info)
    if joined.mode == "P":
        palette = pieces[0][1].getpalette(rawmode="RGB")
        assert palette is not None  # an image in "P" mode has its palette
        joined.putpalette(palette)
    for first, band in pieces:
        a, z = max(start, first), min(stop, first + band.height)
        joined.paste(band.crop((0, a - first, width, z - first)), (0, a - start))
    return joined


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background (transparent parts of a PNG would turn black in JPEG)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _preview(image: Image.Image) -> bytes:
    """A JPEG within PREVIEW_BOX, from the image as it will be stored (already scaled)."""
    size = fit(image.size, PREVIEW_BOX)
    small = working_mode(image)
    if size != small.size:
        small = small.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    small = _flatten(small) if small.mode != "RGB" else small.copy()
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
