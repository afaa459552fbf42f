"""PDFs for the structural check, made in code: a plain letter (samples.pdf) given what
real PDFs may carry, with pikepdf where it can write it and by hand where a hostile file
is what no library writes (an incremental update, an object stream with a long
dictionary, a cross-reference stream pointing into an inflation bomb)."""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pikepdf
from pikepdf import Array, Dictionary, Name, String

from tests.documents import files

Change = Callable[[pikepdf.Pdf], None]


def letter(change: Change | None = None, **save) -> bytes:
    """The plain one-page letter, changed by ``change`` and saved by pikepdf."""
    pdf = pikepdf.open(io.BytesIO(files.pdf("Clearance for IMS")))
    if change is not None:
        change(pdf)
    out = io.BytesIO()
    pdf.save(out, **save)
    return out.getvalue()


def action(kind: str, **entries) -> Dictionary:
    return Dictionary(Type=Name.Action, S=Name("/" + kind), **entries)


def _annotate(pdf: pikepdf.Pdf, annotation: Dictionary) -> Dictionary:
    page = pdf.pages[0].obj
    annotation = pdf.make_indirect(annotation)
    if "/Annots" not in page:
        page.Annots = Array()
    page.Annots.append(annotation)
    return annotation


def link(a: Dictionary) -> Change:
    """A link over the letter's first line that does ``a`` when clicked."""
    def change(pdf: pikepdf.Pdf) -> None:
        _annotate(pdf, Dictionary(Type=Name.Annot, Subtype=Name.Link,
                                  Rect=[72, 710, 300, 730], Border=[0, 0, 0], A=a))
    return change


def uri_link(uri: str) -> Change:
    return link(action("URI", URI=String(uri)))


def annotation(subtype: str, **entries) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        _annotate(pdf, Dictionary(Type=Name.Annot, Subtype=Name("/" + subtype),
                                  Rect=[72, 600, 200, 700], **entries))
    return change


def on_open(a: Dictionary) -> Change:
    """The document runs ``a`` when it is opened."""
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.OpenAction = pdf.make_indirect(a)
    return change


def on_page_open(a: Dictionary) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.pages[0].obj.AA = Dictionary(O=a)
    return change


def field(**entries) -> Change:
    """A form field on the letter (its widget on the page), with ``entries``."""
    def change(pdf: pikepdf.Pdf) -> None:
        widget = _annotate(pdf, Dictionary(Type=Name.Annot, Subtype=Name.Widget,
                                           Rect=[72, 500, 300, 520], P=pdf.pages[0].obj,
                                           **entries))
        pdf.Root.AcroForm = Dictionary(Fields=[widget], DA=String("/Helv 0 Tf 0 g"))
    return change


def attached_file(pdf: pikepdf.Pdf) -> None:
    pdf.attachments["notes.txt"] = pikepdf.AttachedFileSpec(pdf, b"not a letter",
                                                             mime_type="text/plain")


def file_attachment_annotation(pdf: pikepdf.Pdf) -> None:
    embedded = pdf.make_stream(b"MZ\x90\x00", Type=Name.EmbeddedFile)
    spec = Dictionary(Type=Name.Filespec, F=String("invoice.exe"),
                      EF=Dictionary(F=embedded))
    annotation("FileAttachment", FS=spec, Contents=String("see attached"))(pdf)


def rich_media(pdf: pikepdf.Pdf) -> None:
    asset = pdf.make_stream(b"FWS\x0a" + b"\x00" * 20)
    content = Dictionary(Assets=Dictionary(Names=[String("a.swf"), Dictionary(
        Type=Name.Filespec, F=String("a.swf"), UF=String("a.swf"),
        EF=Dictionary(F=asset))]))
    annotation("RichMedia", RichMediaContent=content)(pdf)


def screen_with_rendition(pdf: pikepdf.Pdf) -> None:
    annotation("Screen", A=action("Rendition", OP=0))(pdf)


def next_cycle(last: Dictionary | None) -> Change:
    """An OpenAction whose /Next chain comes back to its start (GoTo, GoTo, …), with
    ``last`` hung on the second action if given."""
    def change(pdf: pikepdf.Pdf) -> None:
        page = pdf.pages[0].obj
        first = pdf.make_indirect(action("GoTo", D=[page, Name.Fit]))
        second = pdf.make_indirect(action("GoTo", D=[page, Name.Fit]))
        first.Next = second
        second.Next = Array([first] + ([pdf.make_indirect(last)] if last is not None else []))
        pdf.Root.OpenAction = first
    return change


def nested(levels: int) -> Change:
    """Containers ``levels`` deep below the catalog: a dictionary, then arrays in arrays."""
    def change(pdf: pikepdf.Pdf) -> None:
        value: Array = Array([0])
        for _ in range(levels - 2):
            value = Array([value])
        pdf.Root.PieceInfo = Dictionary(Deep=value)
    return change


def many_objects(n: int) -> Change:
    def change(pdf: pikepdf.Pdf) -> None:
        pdf.Root.PieceInfo = Array([pdf.make_indirect(Dictionary(N=i)) for i in range(n)])
    return change


def owner_password_only() -> bytes:
    """Encrypted with an empty user password: any reader opens it without asking."""
    return letter(encryption=pikepdf.Encryption(owner="clinic-owner", user="",
                                                allow=pikepdf.Permissions(modify_other=False)))


def user_password() -> bytes:
    return letter(encryption=pikepdf.Encryption(owner="o", user="secret"))


def scan_with_keywords_in_its_jpeg() -> bytes:
    """A one-page scan (a JPEG, embedded as it is) whose JPEG comment reads like PDF
    objects: bytes of an image stream, not objects."""
    jpeg = files.jpeg((600, 800), comment=b"/JavaScript /JS (app.alert(1)) /OpenAction "
                                          b"/Launch /EmbeddedFiles /SubmitForm /XFA /RichMedia")
    pdf = pikepdf.new()
    image = pdf.make_stream(jpeg, Type=Name.XObject, Subtype=Name.Image, Width=600,
                            Height=800, ColorSpace=Name.DeviceRGB, BitsPerComponent=8,
                            Filter=Name.DCTDecode)
    content = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    pdf.pages.append(pikepdf.Page(Dictionary(
        Type=Name.Page, MediaBox=[0, 0, 612, 792], Contents=content,
        Resources=Dictionary(XObject=Dictionary(Im0=image)))))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    data = out.getvalue()
    assert b"/JavaScript /JS" in data
    return data


def letter_that_mentions_javascript() -> bytes:
    """A letter whose text, in an uncompressed page content stream, names PDF keys."""
    data = files.samples.pdf(["Do not open /JavaScript /JS /Launch /EmbeddedFiles links."],
                             compress=False)
    assert b"/JavaScript" in data
    return data


# --- written by hand ------------------------------------------------------------------------

_TEXT = b"BT /F1 13 Tf 72 720 Td (Clearance) Tj ET"
_PAGE_OBJECTS = {
    1: b"<< /Type /Catalog /Pages 2 0 R%s >>",
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
       b"/Resources << /Font << /F1 5 0 R >> >> >>",
    4: b"<< /Length %d >>\nstream\n" % len(_TEXT) + _TEXT + b"\nendstream",
    5: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
}


def _with_object_stream(packed: bytes, objstm_extra: bytes, n_packed: int,
                        catalog_extra: bytes) -> bytes:
    """A letter whose objects 6.. (``n_packed`` of them, in ``packed``: their header of
    numbers and offsets, then their text) are in object stream 6+n, found through a
    cross-reference stream."""
    header_end = packed.index(b"<<")
    stream_no = 6 + n_packed
    squeezed = zlib.compress(packed)
    objects = dict(_PAGE_OBJECTS)
    objects[1] = objects[1] % catalog_extra
    objects[stream_no] = (b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d"
                          % (n_packed, header_end, len(squeezed)) + objstm_extra
                          + b" >>\nstream\n" + squeezed + b"\nendstream")
    return _write_xref_stream(objects, packed={6 + i: (stream_no, i) for i in range(n_packed)})


def _write_xref_stream(objects: dict[int, bytes], packed: dict[int, tuple[int, int]]) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_no = max([*objects, *packed]) + 1
    offsets[xref_no] = len(out)
    rows = []
    for number in range(xref_no + 1):
        if number in offsets:
            rows.append(struct.pack(">BIH", 1, offsets[number], 0))
        elif number in packed:
            rows.append(struct.pack(">BIH", 2, *packed[number]))
        else:
            rows.append(struct.pack(">BIH", 0, 0, 65535))
    table = b"".join(rows)
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
            % (xref_no, xref_no + 1, len(table)) + table + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[xref_no]
    return bytes(out)


def javascript_in_object_stream_with_long_dictionary() -> bytes:
    """The OpenAction's JavaScript inside a compressed object stream whose own dictionary
    is more than 4 KiB long (a private key padded with text)."""
    body = b"<< /S /JavaScript /JS (app.launchURL\\('https://tracker.example/'\\)) >>"
    padding = b" /PieceInfo (" + b"x" * 5000 + b")"
    return _with_object_stream(b"6 0 " + body, padding, 1, b" /OpenAction 6 0 R")


def object_stream_inflation_bomb(megabytes: int = 200) -> bytes:
    """An OpenAction kept in an object stream that inflates to ``megabytes`` of spaces."""
    body = b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>"
    squeeze = zlib.compressobj(9)
    packed = squeeze.compress(b"6 0 " + body)
    blank = b" " * (1024 * 1024)
    for _ in range(megabytes):
        packed += squeeze.compress(blank)
    packed += squeeze.flush()
    # Already compressed: written as it is (the header offset is that of the raw text).
    header_end = len(b"6 0 ")
    objects = dict(_PAGE_OBJECTS)
    objects[1] = objects[1] % b" /OpenAction 6 0 R"
    objects[7] = (b"<< /Type /ObjStm /N 1 /First %d /Filter /FlateDecode /Length %d >>\n"
                  b"stream\n" % (header_end, len(packed)) + packed + b"\nendstream")
    return _write_xref_stream(objects, packed={6: (7, 0)})


def huge_array(megabytes: int = 6) -> bytes:
    """A plain letter with one more object: an array of millions of one-item arrays. No
    compression, nothing hidden; qpdf needs about 75 times its size to hold it."""
    objects = dict(_PAGE_OBJECTS)
    objects[1] = objects[1] % b" /PieceInfo 6 0 R"
    objects[6] = b"[" + b"[0] " * (megabytes * 1024 * 1024 // 4) + b"]"
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number in sorted(objects):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def incremental_update(base: bytes, catalog: bytes, added: bytes) -> bytes:
    """``base`` (a samples.pdf letter: catalog 1, objects 1-5) with an incremental update
    appended, as an editor saves one: a new catalog and object 6, a cross-reference
    section for them, and a trailer pointing back to the previous one."""
    previous = int(base.rsplit(b"startxref", 1)[1].split()[0])
    out = bytearray(base)
    offsets = {}
    for number, body in ((1, catalog), (6, added)):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n6 1\n%010d 00000 n \n" % (
        offsets[1], offsets[6])
    out += b"trailer\n<< /Size 7 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        previous, xref)
    return bytes(out)


def javascript_added_by_an_update() -> bytes:
    return incremental_update(
        files.pdf("Clearance for IMS"),
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>",
        b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>")
