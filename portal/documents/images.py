"""Photos and scans: decoded, scaled down, turned upright, stripped to their pixels and
encoded again; and the JPEG preview every kept file gets (a PDF's from its first page).

Memory: a 49-megapixel image is 196 MB once decoded (Pillow keeps RGB in four bytes a
pixel), so the worker never holds one whole if it can help it. JPEGs are decoded at a
reduced scale by the decoder itself (Image.draft) when the full size would pass
IMAGE_MAX_EDGE² pixels; large PNGs are decoded a band of rows at a time and each band
scaled down as it comes (pngbands.py); whatever is decoded whole (HEIF, interlaced or
16-bit colour PNGs) is scaled down a band of output rows at a time, so no intermediate as
large as the image exists beside it. The image is turned upright once it is small, and
the preview is made from the scaled image, never from the full one.

Formats are Pillow's names ("JPEG", "PNG", "HEIF"); which file is which kind is content.py's
business, and so is what the patient is told when one fails here.
"""
from __future__ import annotations

import io
import tempfile
import warnings
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

import pillow_heif
from PIL import Image

from portal.documents import pngbands

pillow_heif.register_heif_opener()

IMAGE_MAX_EDGE = 4096
# The preview's slot (the staff documents list, .doc__preview) is at most 22rem (352 px)
# wide: twice that for high-density screens, in a portrait page's 3:4. The <img> carries
# these as width and height, so the page keeps its place while the image loads.
PREVIEW_BOX = (704, 939)
PREVIEW_QUALITY = 80
SPOOL = 1024 * 1024  # stored content beyond this goes to a temporary file, not memory

_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}
_ORIENTATION = 0x0112
SHRINK_BAND = 64  # output rows scaled at a time


class TooManyPixels(Exception):
    """More pixels than the caller allows, or than Pillow's decompression-bomb limit."""


class Undecodable(Exception):
    """The decoder failed: not really an image of that format."""


def decode(stream: BinaryIO, fmt: str, max_pixels: int) -> Image.Image:
    """The image in ``stream``, no larger than IMAGE_MAX_EDGE a side, upright, with nothing
    but its pixels (and a PNG's transparency): EXIF, GPS, XMP, ICC, comments and text chunks
    all stay behind. TooManyPixels past ``max_pixels``, found before anything is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(stream, formats=[fmt])
            width, height = image.size
            if width * height > max_pixels or width < 1 or height < 1:
                raise TooManyPixels
            image, orientation = _decode(image, fmt, stream)
    except TooManyPixels:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixels from None
    except Exception:  # any decoder failure: not really that kind of image
        raise Undecodable from None

    if orientation in _TRANSPOSE:  # upright, now that it is small
        image = image.transpose(_TRANSPOSE[orientation])
    keep: dict[str | tuple[int, int], Any] = {k: image.info[k] for k in ("transparency",)
                                              if k in image.info}
    image.info = keep
    return image


def encode(image: Image.Image, fmt: str) -> tuple[IO[bytes], bytes]:
    """``image`` encoded as ``fmt`` ("PNG" or "JPEG", flattened on white if need be) in a
    temporary file, and its preview, made from what is stored."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115 - returned, open
    if fmt == "PNG":
        if image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA"):
            image = image.convert("RGBA")
        image.save(out, "PNG")
    else:
        if image.mode not in ("L", "RGB"):
            image = _flatten(image)
        image.save(out, "JPEG", quality=90)
    return out, preview(image)


def _decode(image: Image.Image, fmt: str, stream: BinaryIO) -> tuple[Image.Image, int]:
    """The image decoded and no larger than IMAGE_MAX_EDGE a side (not yet upright), and its
    EXIF orientation."""
    box = (IMAGE_MAX_EDGE, IMAGE_MAX_EDGE)
    target = fit(image.size, box)
    if fmt == "PNG" and target != image.size:
        orientation = _exif_orientation(image.info.get("exif"))
        rows = pngbands.bands(stream)
        if rows is not None:
            return scale_bands(rows, image.size, target), orientation
        stream.seek(0)
        image = Image.open(stream, formats=["PNG"])
    if fmt == "JPEG":
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


def preview(image: Image.Image) -> bytes:
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
