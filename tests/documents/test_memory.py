"""Memory of the worker's check (issue 11: under 300 MB on a 49-megapixel image). A
49-megapixel image is 196 MB once decoded; the check decodes PNGs a band at a time and
JPEGs at a reduced scale, so it never holds one whole. Measured as the peak resident size
of a process of its own that only runs ``content.prepare`` (the figure is printed).

PDFs whose structure qpdf would need gigabytes to hold (issue 13) are walked in a process
of the check's own, capped at pdfscan.ADDRESS_SPACE: the worker stays small, and the file
is refused."""
from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from portal.documents import content, pdfscan, pngbands
from tests.documents import pdf_files

ROOT = Path(__file__).resolve().parents[2]
SIDE = 7000  # 49 megapixels
LIMIT_MB = 300

# The peak is this process's own VmHWM: getrusage's ru_maxrss would carry over the size of the
# process that started it (Linux keeps it across exec), here the whole test run.
MEASURE = """
import json, sys
from portal.documents import content
from PIL import Image
def hwm_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
before = hwm_kb()
with open(sys.argv[1], "rb") as stream:
    prepared = content.prepare(stream, "big.png", max_bytes=10 ** 9, max_pixels=50_000_000)
peak = hwm_kb()
prepared.content.seek(0)
print(json.dumps({"before_mb": before / 1024, "peak_mb": peak / 1024,
                  "stored": list(Image.open(prepared.content).size),
                  "type": prepared.content_type, "preview": len(prepared.preview)}))
"""


# The same for a PDF; its structure is walked by a child process (RUSAGE_CHILDREN: its
# peak, or this process's at the time it started, whichever is larger).
MEASURE_PDF = """
import json, resource, sys
from portal.documents import content
def hwm_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
with open(sys.argv[1], "rb") as stream:
    try:
        content.prepare(stream, "big.pdf", max_bytes=10 * 1024 * 1024, max_pixels=50_000_000)
        code = None
    except content.Refused as refused:
        code = refused.code
print(json.dumps({"code": code, "peak_mb": hwm_kb() / 1024,
                  "check_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def write_big_png(path: Path, side: int = SIDE) -> None:
    """An RGB PNG of side x side pixels, a letter-like pattern of dark bars on white, written
    a row at a time (so this process never holds the image either); it compresses small."""
    lines = []
    for variant in range(8):
        row = bytearray(b"\xff" * (3 * side))
        for x in range(300 + 40 * variant, side - 300, 97 + variant):
            row[3 * x:3 * (x + 40)] = b"\x20\x20\x40" * 40
        lines.append(b"\x00" + bytes(row[:3 * side]))
    blank = b"\x00" + b"\xff" * (3 * side)
    squeeze = zlib.compressobj(6)
    with open(path, "wb") as out:
        out.write(pngbands.SIGNATURE)
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)))
        for y in range(side):
            data = lines[(y // 60) % 8] if (y // 30) % 2 else blank
            packed = squeeze.compress(data)
            if packed:
                out.write(_chunk(b"IDAT", packed))
        out.write(_chunk(b"IDAT", squeeze.flush()))
        out.write(_chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def big_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.png"
    write_big_png(path)
    return path


def test_a_49_megapixel_png_is_checked_within_the_workers_memory(big_png):
    assert big_png.stat().st_size < 2 * 1024 * 1024
    result = subprocess.run([sys.executable, "-c", MEASURE, str(big_png)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(result.stdout)
    print(f"\n49-megapixel PNG: peak {measured['peak_mb']:.0f} MB "
          f"(the process before the check: {measured['before_mb']:.0f} MB)")
    assert measured["stored"] == [4096, 4096] and measured["type"] == "image/png"
    assert measured["preview"] > 1000
    assert measured["peak_mb"] < LIMIT_MB


@pytest.mark.parametrize("make", [pdf_files.huge_array, pdf_files.object_stream_inflation_bomb],
                         ids=["6-mb-array-of-arrays", "object-stream-inflating-to-200-mb"])
def test_a_pdf_qpdf_would_need_gigabytes_for_is_refused_and_the_worker_stays_small(
        tmp_path, make):
    path = tmp_path / "big.pdf"
    path.write_bytes(make())
    result = subprocess.run([sys.executable, "-c", MEASURE_PDF, str(path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(result.stdout)
    print(f"\n{make.__name__}: worker peak {measured['peak_mb']:.0f} MB, "
          f"its PDF check's peak {measured['check_peak_mb']:.0f} MB")
    assert measured["code"] == pdfscan.UNCHECKED
    assert measured["peak_mb"] < LIMIT_MB
    assert measured["check_peak_mb"] <= pdfscan.ADDRESS_SPACE / (1024 * 1024)


def test_png_bands_give_the_picture_pillow_gives():
    """The band decoder against Pillow's own decoding and scaling, over the PNG kinds a
    phone, a scanner or an editor writes (palettes, transparency, grey, 1 to 8 bits)."""
    base = Image.radial_gradient("L").resize((4500, 1100)).convert("RGB")
    base.paste((200, 30, 30), (100, 100, 900, 500))
    kinds = {
        "RGB": base, "RGBA": base.convert("RGBA"), "L": base.convert("L"),
        "LA": base.convert("LA"), "1": base.convert("1"), "P": base.quantize(200),
        "P4": base.quantize(16), "P-transparent": base.quantize(64),
    }
    kinds["RGBA"].putalpha(base.convert("L"))
    for name, image in kinds.items():
        out = io.BytesIO()
        image.save(out, "PNG", **({"transparency": 3} if name == "P-transparent" else {}))
        data = out.getvalue()
        target = content.fit(image.size, (content.IMAGE_MAX_EDGE, content.IMAGE_MAX_EDGE))
        bands = pngbands.bands(io.BytesIO(data))
        assert bands is not None, name
        got = content.scale_bands(bands, image.size, target)
        expected = content.working_mode(Image.open(io.BytesIO(data))).resize(
            target, Image.Resampling.LANCZOS)
        assert got.mode == expected.mode and got.size == expected.size, name
        # Premultiplied, so that fully transparent pixels' colours do not count.
        premultiplied = "RGBa" if got.mode == "RGBA" else ("La" if got.mode == "LA" else None)
        a, b = (got.convert(premultiplied), expected.convert(premultiplied)) \
            if premultiplied else (got, expected)
        from PIL import ImageChops
        extrema = ImageChops.difference(a, b).getextrema()
        worst = max(e[1] for e in extrema) if isinstance(extrema[0], tuple) else extrema[1]
        assert worst <= 2, (name, worst)


def _png_header(depth: int, colour: int, interlace: int) -> bytes:
    return (pngbands.SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", 20, 20, depth, colour, 0, 0, interlace))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("depth,colour,interlace,banded", [
    (8, 2, 1, False),  # interlaced: rows in seven passes
    (16, 2, 0, False),  # 16-bit RGB: six bytes a pixel
    (16, 6, 0, False),  # 16-bit RGBA: eight
    (16, 0, 0, True),  # 16-bit grey: two bytes, as grey and alpha
    (8, 6, 0, True),
])
def test_what_the_bands_leave_to_pillow(depth, colour, interlace, banded):
    found = pngbands.bands(io.BytesIO(_png_header(depth, colour, interlace)))
    assert (found is not None) == banded


@pytest.mark.parametrize("cut", [100, 2000])
def test_a_damaged_large_png_is_unreadable(tmp_path, big_png, cut):
    data = big_png.read_bytes()
    broken = io.BytesIO(data[:len(data) - cut])
    with pytest.raises(content.Refused) as refused:
        content.prepare(broken, "big.png", max_bytes=10 ** 9, max_pixels=50_000_000)
    assert refused.value.code == "unreadable"
