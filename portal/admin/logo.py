"""The clinic's logo: a small PNG or JPEG an admin uploads, decoded and encoded again by the
same code as patients' photos (portal.documents.images), so that what the portal serves has
only pixels (no metadata, no trailing data) and a bounded size whatever was sent.

A file is refused, with a reason the admin reads, when it is larger than MAX_BYTES, when its
first bytes are not PNG or JPEG (a PDF named logo.png is a PDF), when it does not decode as
what its first bytes say, or when it declares more than MAX_PIXELS pixels (a decompression
bomb is refused before anything is decoded).
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

from portal.documents import content, images

MAX_BYTES = 512 * 1024
MAX_PIXELS = 4096 * 4096
# Shown at most 64 px tall in the header; four times that covers high-density screens.
BOX = (1024, 256)
_FORMATS = {content.PNG: "PNG", content.JPEG: "JPEG"}


class LogoRefused(Exception):
    """``code`` says why: "too_big", "not_image", "undecodable" or "too_many_pixels"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Logo:
    data: bytes
    mimetype: str
    digest: str


def prepare(stream: BinaryIO) -> Logo:
    """The logo to store from an upload, or LogoRefused."""
    raw = stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise LogoRefused("too_big")
    mimetype = content.sniff(raw[:64])
    fmt = _FORMATS.get(mimetype or "")
    if fmt is None:
        raise LogoRefused("not_image")
    try:
        image = images.decode(io.BytesIO(raw), fmt, MAX_PIXELS)
    except images.TooManyPixels:
        raise LogoRefused("too_many_pixels") from None
    except images.Undecodable:
        raise LogoRefused("undecodable") from None
    data = _encode(image, fmt)
    return Logo(data, mimetype or "", hashlib.sha256(data).hexdigest())


def _encode(image: Image.Image, fmt: str) -> bytes:
    size = images.fit(image.size, BOX)
    image = images.working_mode(image)
    if size != image.size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        if image.mode != "RGB":
            image = image.convert("RGB")  # a JPEG's grey or CMYK pixels
        image.save(out, "JPEG", quality=88, optimize=True)
    return out.getvalue()
