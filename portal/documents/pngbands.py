"""A large PNG decoded a band of rows at a time, so that the worker never holds all of its
pixels at once (a 49-megapixel screenshot is 196 MB decoded; images.py scales each band
down as it comes).

Pillow decodes a PNG whole. This module reads the file's chunks itself, inflates the image
data a band of rows at a time, and hands each band to Pillow as a small PNG of its own, so
that Pillow still does all the decoding work (filters, bit depths, palettes,
transparency):

1. The band's rows are still filtered, and a row's filter may refer to the row above it.
   So the band goes first into a PNG whose pixels are plain bytes (grey, grey and alpha,
   RGB or RGBA: whichever has as many bytes a pixel as the real image, since the filters
   work on bytes), topped by the previous band's last row, unfiltered: Pillow gives the
   band's bytes unfiltered.
2. Those bytes, with no filter, go into a PNG with the real header, palette and
   transparency: Pillow gives the band's pixels.

Interlaced PNGs (whose rows come in seven passes) and 16-bit colour (six or eight bytes a
pixel, which no plain-byte PNG has) are left to Pillow whole: ``bands`` says None.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAND_BYTES = 1024 * 1024  # inflated bytes a band (smaller bands: less held at once)
_READ = 256 * 1024
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Bytes a pixel -> the plain-byte PNG colour type with as many (8 bits a channel).
_PLAIN = {1: 0, 2: 4, 3: 2, 4: 6}


class PNGError(ValueError):
    """Not a PNG this module can read (the caller refuses the file)."""


def bands(stream: BinaryIO) -> Iterator[tuple[int, Image.Image]] | None:
    """The image in ``stream`` as (first row, band) pairs, top to bottom; None when the PNG
    is interlaced or 16-bit colour (decode it whole)."""
    stream.seek(0)
    if stream.read(8) != SIGNATURE:
        raise PNGError("not a PNG")
    header, extra, idat = _chunks(stream)
    width, height, depth, colour, _compression, _filter, interlace = struct.unpack(
        ">IIBBBBB", header)
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise PNGError("bad header")
    bits = _CHANNELS[colour] * depth
    per_pixel = max(1, bits // 8)
    if interlace or per_pixel not in _PLAIN:
        return None
    if not idat:
        raise PNGError("no image data")
    row_bytes = (width * bits + 7) // 8
    return _bands(stream, idat, (width, height, depth, colour), extra, row_bytes, per_pixel)


def _chunks(stream: BinaryIO) -> tuple[bytes, list[tuple[bytes, bytes]], list[tuple[int, int]]]:
    """IHDR's data; the chunks every band needs too (PLTE, tRNS); where the image data is
    (offset and length of each IDAT's data)."""
    header = b""
    extra: list[tuple[bytes, bytes]] = []
    idat: list[tuple[int, int]] = []
    while True:
        head = stream.read(8)
        if len(head) < 8:
            raise PNGError("truncated")
        length, kind = struct.unpack(">I4s", head)
        if kind == b"IDAT":
            idat.append((stream.tell(), length))
            stream.seek(length + 4, io.SEEK_CUR)  # its CRC is checked as it is read
            continue
        if kind == b"IEND":
            break
        if kind in (b"IHDR", b"PLTE", b"tRNS"):
            data = stream.read(length)
            crc = stream.read(4)
            if len(data) != length or len(crc) != 4 or \
                    struct.unpack(">I", crc)[0] != zlib.crc32(kind + data):
                raise PNGError(f"damaged {kind.decode()}")
            if kind == b"IHDR":
                if length != 13:
                    raise PNGError("bad header")
                header = data
            else:
                extra.append((kind, data))
        else:
            stream.seek(length + 4, io.SEEK_CUR)
    if not header:
        raise PNGError("no header")
    return header, extra, idat


def _inflated(stream: BinaryIO, idat: list[tuple[int, int]], wanted: int) -> Iterator[bytes]:
    """The image data inflated, in pieces of at most BAND_BYTES, and no more than
    ``wanted`` bytes in all (what follows the last row is never inflated)."""
    inflate = zlib.decompressobj()
    given = 0
    for offset, length in idat:
        stream.seek(offset)
        crc = zlib.crc32(b"IDAT")
        left = length
        while left:
            data = stream.read(min(_READ, left))
            if not data:
                raise PNGError("truncated")
            left -= len(data)
            crc = zlib.crc32(data, crc)
            while data and given < wanted:
                out = inflate.decompress(data, min(BAND_BYTES, wanted - given))
                given += len(out)
                data = inflate.unconsumed_tail
                yield out
        stored = stream.read(4)
        if len(stored) != 4 or struct.unpack(">I", stored)[0] != crc & 0xFFFFFFFF:
            raise PNGError("damaged IDAT")
        if given >= wanted:
            return
    raise PNGError("truncated")


def _png(size: tuple[int, int], depth: int, colour: int, rows: bytes,
         extra: Sequence[tuple[bytes, bytes]] = ()) -> Image.Image:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    data = (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", *size, depth, colour, 0, 0, 0))
            + b"".join(chunk(kind, value) for kind, value in extra)
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image


def _bands(stream: BinaryIO, idat, real: tuple[int, int, int, int], extra, row_bytes: int,
           per_pixel: int) -> Iterator[tuple[int, Image.Image]]:
    width, height, depth, colour = real
    stride = row_bytes + 1  # each row starts with its filter type
    rows_a_band = max(1, BAND_BYTES // stride)
    plain = (row_bytes // per_pixel, _PLAIN[per_pixel])
    above = b""  # the last row of the band before, unfiltered
    buffer = bytearray()
    top = 0
    pieces = _inflated(stream, idat, height * stride)
    while top < height:
        count = min(rows_a_band, height - top)
        while len(buffer) < count * stride:
            piece = next(pieces, None)
            if piece is None:
                raise PNGError("truncated")
            buffer += piece
        filtered = bytes(buffer[:count * stride])
        del buffer[:count * stride]
        # 1. Unfiltered bytes, the row above first (it is the filters' reference).
        seeded = (b"\0" + above if above else b"") + filtered
        unfiltered = _png((plain[0], count + (1 if above else 0)), 8, plain[1],
                          seeded).tobytes()
        if above:
            unfiltered = unfiltered[row_bytes:]
        above = unfiltered[-row_bytes:]
        # 2. The pixels: the same rows, now with no filter, under the real header.
        plain_rows = bytearray(count * stride)
        for i in range(count):
            plain_rows[i * stride + 1:(i + 1) * stride] = \
                unfiltered[i * row_bytes:(i + 1) * row_bytes]
        yield top, _png((width, count), depth, colour, bytes(plain_rows), extra)
        top += count
