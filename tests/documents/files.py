"""Files for the upload tests, made in code: good ones, disguised ones and hostile ones."""
from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from portal.demo import samples

GPS_IFD = 0x8825


def pdf(text: str = "Clearance for IMS") -> bytes:
    return samples.pdf([text])


def jpeg(size=(600, 800), **params) -> bytes:
    return samples.jpeg(("Clearance",), size=size, **params)


def png(size=(600, 800)) -> bytes:
    return samples.png(("Clearance",), size=size)


def heic(size=(640, 480)) -> bytes:
    import pillow_heif  # noqa: F401  (registers the HEIF writer)
    return samples.encode(samples.letter_image(("Clearance",), size), "HEIF", quality=60)


def exif_with_gps(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"          # Make
    exif[0x0110] = "Phone 15 Pro"        # Model
    exif[0x0131] = "SecretCameraApp 1.0"  # Software
    if orientation:
        exif[0x0112] = orientation
    gps = {1: "N", 2: (49.0, 15.0, 30.0), 3: "W", 4: (123.0, 7.0, 12.0)}  # Vancouver
    exif[GPS_IFD] = gps
    return exif


def jpeg_with_gps(size=(400, 200), orientation: int | None = None) -> bytes:
    image = samples.letter_image(("Clearance",), size)
    return samples.encode(image, "JPEG", exif=exif_with_gps(orientation).tobytes(),
                          comment=b"shot at 1234 Secret Street")


def png_with_metadata() -> bytes:
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "shot at 1234 Secret Street")
    info.add_itxt("Location", "1234 Secret Street")
    image = samples.letter_image(("Clearance",), (300, 400))
    return samples.encode(image, "PNG", pnginfo=info, exif=exif_with_gps().tobytes())


# --- hostile ------------------------------------------------------------------------------

EXECUTABLE = (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44
              + b"\x80\x00\x00\x00" + b"This program cannot be run in DOS mode.\r\n" * 4)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
HTML = (b"<!doctype html><html><head><title>Clearance</title></head><body>"
        b"<script>fetch('/me/').then(r => r.text()).then(t => alert(t))</script></body></html>")
SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
       b'width="10" height="10" onload="alert(document.cookie)"><rect width="10" '
       b'height="10"/></svg>')
HTML_WITH_PDF_INSIDE = b"<html><body>hello</body></html>\n" + pdf()


def pdf_with_javascript() -> bytes:
    return samples.pdf(["Clearance"], catalog_extra=b" /OpenAction 6 0 R",
                       extra_objects=(b"<< /Type /Action /S /JavaScript /JS (app.alert(1)) >>",))


def pdf_with_escaped_javascript() -> bytes:
    """The same, with the names written in #xx escapes (/J#61vaScript is /JavaScript)."""
    return samples.pdf(["Clearance"], catalog_extra=b" /OpenAction 6 0 R",
                       extra_objects=(b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>",))


def pdf_with_javascript_in_object_stream() -> bytes:
    """The action inside a compressed object stream, where a scan of the file's bytes
    cannot see it."""
    inner = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    header = b"6 0 "
    packed = zlib.compress(header + inner)
    objstm = (b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
              % (len(header), len(packed)) + packed + b"\nendstream")
    return samples.pdf(["Clearance"], catalog_extra=b" /OpenAction 6 0 R",
                       extra_objects=(objstm,))


def pdf_with_embedded_file() -> bytes:
    embedded = b"<< /Type /EmbeddedFile /Length 4 >>\nstream\nMZ\x90\x00\nendstream"
    return samples.pdf(["Clearance"],
                       catalog_extra=b" /Names << /EmbeddedFiles << /Names [(a.exe) 7 0 R] >> >>",
                       extra_objects=(embedded,
                                      b"<< /Type /Filespec /F (a.exe) /EF << /F 6 0 R >> >>"))


def png_header_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG that claims to be 900 megapixels (2.7 GB once decoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png_real_bomb(side: int = 8000) -> bytes:
    """A real, valid PNG of side x side pixels (64 MP at 8000) that compresses to a few KB."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def padded_pdf(total: int) -> bytes:
    """A valid PDF of exactly ``total`` bytes (a comment after %%EOF)."""
    base = pdf("Padded clearance")
    filler = total - len(base) - 2
    assert filler >= 0
    return base + b"%" + b"x" * filler + b"\n"
