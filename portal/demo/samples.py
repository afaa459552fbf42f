"""Small, real sample files made in code: the demo clinic's clearance letters
(``flask seed-demo``) and the tests' uploads. No binary fixtures in the repository."""
from __future__ import annotations

import io
import unicodedata
import zlib

from PIL import Image, ImageDraw, ImageFont


def _escape(text: str) -> bytes:
    raw = text.encode("latin-1", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def pdf(lines: list[str] | tuple[str, ...] = ("Medical clearance",), *,
        catalog_extra: bytes = b"", extra_objects: tuple[bytes, ...] = (),
        compress: bool = True) -> bytes:
    """A one-page PDF (Letter size, Helvetica) with ``lines`` of text. ``catalog_extra`` and
    ``extra_objects`` (numbered from 6) let tests add what real PDFs may carry."""
    text = b"BT /F1 13 Tf 72 720 Td 20 TL " + b" ".join(
        b"(" + _escape(line) + b") Tj T*" for line in lines) + b" ET"
    stream = zlib.compress(text) if compress else text
    stream_dict = b"<< /Length %d%s >>" % (len(stream),
                                           b" /Filter /FlateDecode" if compress else b"")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R" + catalog_extra + b" >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream_dict + b"\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        *extra_objects,
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def letter_image(lines: list[str] | tuple[str, ...] = ("Medical clearance",),
                 size: tuple[int, int] = (850, 1100), mode: str = "RGB") -> Image.Image:
    """A picture of a letter, as a phone would take it (slightly off-white paper)."""
    image = Image.new("RGB", size, (250, 248, 240))
    draw = ImageDraw.Draw(image)
    font_size = max(12, size[0] // 30)
    font = ImageFont.load_default(size=font_size)
    y = size[1] // 12
    for line in lines:
        # The built-in font has no accents: "Côté" is drawn "Cote".
        line = unicodedata.normalize("NFKD", line).encode("ascii", "ignore").decode()
        draw.text((size[0] // 12, y), line, fill=(20, 20, 30), font=font)
        y += int(font_size * 1.6)
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png(lines=("Medical clearance",), size=(850, 1100)) -> bytes:
    return encode(letter_image(lines, size), "PNG")


def jpeg(lines=("Medical clearance",), size=(850, 1100), **params) -> bytes:
    return encode(letter_image(lines, size), "JPEG", quality=85, **params)


def clearance_lines(patient_name: str, physician: str = "Dr. R. Singh, MD") -> list[str]:
    return [physician, "Family Medicine", "", "To the IMS practitioner:", "",
            f"I examined {patient_name} and found no other cause for",
            "the myofascial pain. IMS (dry needling) may proceed.", "", physician]
