"""Whether a PDF can do anything besides showing its pages, judged by its structure.

qpdf (through pikepdf) opens the file as a PDF reader does: the cross-reference tables of
every incremental update, the latest one winning, and the objects kept inside compressed
object streams. Every object it finds is walked, reachable from the document or not; only
dictionary keys and the names and strings they hold are looked at. Stream data (images,
fonts, page content) is never decoded, so whatever bytes a scan's JPEG carries cannot
look like anything here.

Refused, with the reason the patient reads (ISO 32000-1:2008 unless said otherwise):

* SCRIPTS: a JavaScript action or a /JS entry anywhere (12.6.4.16), the document's named
  scripts (/JavaScript in the name dictionary, 7.7.4), an XFA form (12.7.8), a javascript:
  link.
* LAUNCH: a Launch action (12.6.4.5), or a link to anything but a web page, an e-mail
  address or a telephone number (file:, a network share: what a click opens is the
  computer's business, not a browser's).
* SENDS_DATA: a form that submits its fields or loads data (SubmitForm, ImportData;
  12.7.5.2, 12.7.5.4).
* WEB_ON_OPEN: a web address (URI, 12.6.4.7) or another file (GoToR, 12.6.4.3) opened with
  no click: from the document's OpenAction, or any additional-actions dictionary /AA
  (document, page, annotation or field triggers, 12.6.3), along their /Next chains
  (12.6.2). A link the reader clicks is what letters have, and is kept.
* ATTACHMENTS: embedded files (/EmbeddedFiles, 7.7.4; a file specification's /EF or /RF,
  7.11.3; an embedded file stream, 7.11.4), file attachment annotations (12.5.6.15),
  GoToE actions (12.6.4.4).
* MEDIA: sound, movie, screen and 3D annotations (12.5.6.16-18, 13.6), rendition, movie and
  sound actions, and RichMedia (Adobe Supplement to ISO 32000, Extension Level 3), each a
  player of its own inside the reader.
* PASSWORD / LOCKED: a file that needs a password to open (7.6), or one encrypted without
  (an owner password): staff must be able to open, print and keep it.
* UNREADABLE: qpdf cannot open it; UNCHECKED: it opens but cannot be walked to the end
  within the caps (objects, nodes, nesting), or objects of its object streams cannot be
  read (qpdf drops them with a warning, and what they held would go unseen).

Earlier revisions: an incremental update may replace an object; the object it replaced is
still in the file's bytes, but no reader shows it when the file is opened (only the latest
cross-reference entry counts), so it is not walked. What an update adds is walked like the
rest.

The walk runs in a process of its own (``scan``), started for each PDF, with its address
space and CPU time capped: qpdf holds every object it parses, and a 10 MiB file can make it
allocate gigabytes (one array of millions of items, an object stream that inflates a
thousand times); the cap ends that process, never the worker, and the file is refused as
UNCHECKED. The module is run as a script for it, so it imports nothing of the portal.
"""
from __future__ import annotations

import io
import logging
import re
import resource
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import pikepdf
import pikepdf.settings

log = logging.getLogger(__name__)

# Refusal reasons, in the order they are told when a file has several.
PASSWORD, LOCKED = "pdf_password", "pdf_locked"
SCRIPTS, LAUNCH, SENDS_DATA = "pdf_scripts", "pdf_launch", "pdf_sends_data"
WEB_ON_OPEN, MEDIA, ATTACHMENTS = "pdf_web", "pdf_media", "pdf_attachments"
UNCHECKED, UNREADABLE = "pdf_unchecked", "unreadable"
ORDER = (PASSWORD, LOCKED, SCRIPTS, LAUNCH, SENDS_DATA, WEB_ON_OPEN, MEDIA, ATTACHMENTS,
         UNCHECKED, UNREADABLE)

# Caps of the walk. A letter, a scan of a few pages or a 100-page report has a few thousand
# objects and a few hundred thousand entries at most; past these the file is refused.
MAX_OBJECTS = 100_000
MAX_NODES = 2_000_000  # dictionary entries and array items looked at, all objects together
MAX_DEPTH = 100  # arrays and dictionaries written inside one another
MAX_CHAIN = 1_000  # actions followed from one trigger (/Next)
# The child process's caps. Its address space: the interpreter and pikepdf take about
# 40 MB, a 9 MB scan 48 MB in all, a file with MAX_OBJECTS objects about 125 MB. With the
# worker's own (about 115 MB), a check stays near the worker's 300 MB (issue 11).
ADDRESS_SPACE = 192 * 1024 * 1024
CPU_SECONDS = 20
WAIT_SECONDS = 60  # wall clock, should the process wait for anything
INFLATE_LIMIT = 32 * 1024 * 1024  # an object or cross-reference stream, once inflated

# Action types (ISO 32000-1 Table 198) refused wherever they are.
_ACTIONS = {"/JavaScript": SCRIPTS, "/Launch": LAUNCH, "/SubmitForm": SENDS_DATA,
            "/ImportData": SENDS_DATA, "/GoToE": ATTACHMENTS, "/Rendition": MEDIA,
            "/Movie": MEDIA, "/Sound": MEDIA, "/RichMediaExecute": MEDIA}
# Action types refused when they run with no click (OpenAction, /AA).
_ON_OPEN = {"/URI": WEB_ON_OPEN, "/GoToR": WEB_ON_OPEN}
# Keys refused in any dictionary.
_KEYS = {"/JS": SCRIPTS, "/JavaScript": SCRIPTS, "/XFA": SCRIPTS,
         "/EmbeddedFiles": ATTACHMENTS, "/EF": ATTACHMENTS, "/RF": ATTACHMENTS,
         "/RichMediaContent": MEDIA, "/RichMediaSettings": MEDIA}
_SUBTYPES = {"/FileAttachment": ATTACHMENTS, "/RichMedia": MEDIA, "/Screen": MEDIA,
             "/Movie": MEDIA, "/Sound": MEDIA, "/3D": MEDIA, "/U3D": MEDIA, "/PRC": MEDIA}
_TYPES = {"/EmbeddedFile": ATTACHMENTS}
# Links a letter may carry (RFC 3986, 3.1: a scheme, then ":").
_WEB_SCHEMES = {"http", "https", "mailto", "tel"}
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.\-]*):")


class _Stop(Exception):
    """The walk went past one of its caps."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _Stop


# --- the walk ----------------------------------------------------------------------------

def _name(value: object) -> str | None:
    return str(value) if isinstance(value, pikepdf.Name) else None


def _link(uri: object) -> str | None:
    """The reason a link's address is refused, if it is: a script, or what is not a web
    page, an e-mail address or a telephone number."""
    if not isinstance(uri, pikepdf.String):
        return None
    text = bytes(uri).decode("latin-1")
    scheme = _SCHEME.match(text)
    if scheme is None:  # relative (to the document's base address), unless a share path
        return LAUNCH if text.lstrip().startswith(("\\", "//")) else None
    name = scheme.group(1).lower()
    if name == "javascript":
        return SCRIPTS
    return None if name in _WEB_SCHEMES else LAUNCH


def _dictionary(d: pikepdf.Object, keys: set[str]) -> set[str]:
    """What one dictionary (or stream dictionary) holds, on its own."""
    found = {_KEYS[k] for k in keys & _KEYS.keys()}
    for key, table in (("/Subtype", _SUBTYPES), ("/Type", _TYPES)):
        value = _name(d.get(key)) if key in keys else None
        if value in table:
            found.add(table[value])
    # /S names an action's type, and also other things (a structure element's role, 14.7.2;
    # a transition's style…); none of those are named like the actions refused. An action
    # is taken for one whatever else its dictionary says, as readers take it.
    if "/S" in keys:
        action = _name(d.get("/S"))
        if action in _ACTIONS:
            found.add(_ACTIONS[action])
        elif action == "/URI" and (reason := _link(d.get("/URI"))):
            found.add(reason)
    return found


def _children(obj: pikepdf.Object) -> Iterator[pikepdf.Object]:
    if isinstance(obj, pikepdf.Array):
        yield from obj
    else:
        for _, value in obj.items():
            yield value


def _containers(root: pikepdf.Object, budget: _Budget) -> Iterator[pikepdf.Object]:
    """``root`` and the dictionaries and arrays written inside it; objects it refers to are
    walked as objects of their own."""
    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        yield obj
        for child in _children(obj):
            budget.spend()
            if isinstance(child, pikepdf.Dictionary | pikepdf.Array) and not child.is_indirect:
                if depth + 1 > MAX_DEPTH:
                    raise _Stop
                stack.append((child, depth + 1))


def _triggered(container: pikepdf.Object, keys: set[str]) -> Iterator[pikepdf.Object]:
    """The actions that run with no click: the document's OpenAction (when it is an action,
    not a page to show) and every entry of an additional-actions dictionary."""
    if "/OpenAction" in keys:
        opened = container.get("/OpenAction")
        if isinstance(opened, pikepdf.Dictionary | pikepdf.Stream):
            yield opened
    if "/AA" in keys:
        triggers = container.get("/AA")
        if isinstance(triggers, pikepdf.Dictionary):
            yield from (value for _, value in triggers.items())
        elif triggers is not None:
            raise _Stop  # not a dictionary: what would a reader make of it?


def _on_open(first: pikepdf.Object) -> set[str]:
    """What an action run with no click does, along its /Next chain."""
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    todo = [first]
    for _ in range(MAX_CHAIN):
        if not todo:
            return found
        action = todo.pop()
        if action is None:  # null: no action
            continue
        if isinstance(action, pikepdf.Array):
            todo.extend(action)
            continue
        if not isinstance(action, pikepdf.Dictionary):
            raise _Stop  # an action that is a stream, a number…: malformed, not guessed at
        if action.is_indirect:
            if action.objgen in seen:
                continue
            seen.add(action.objgen)
        kind = _name(action.get("/S"))
        if kind in _ON_OPEN:
            found.add(_ON_OPEN[kind])
        if "/Next" in action:
            todo.append(action["/Next"])
    raise _Stop


def _objects(pdf: pikepdf.Pdf) -> Iterable[pikepdf.Object | None]:
    """The trailer and every object of the cross-reference tables, as qpdf resolves them."""
    if len(pdf.objects) > MAX_OBJECTS:
        raise _Stop
    yield pdf.trailer
    yield from pdf.objects


def walk(pdf: pikepdf.Pdf) -> set[str]:
    """Every reason to refuse an open PDF; UNCHECKED when the walk cannot be finished."""
    found: set[str] = set()
    budget = _Budget()
    try:
        for root in _objects(pdf):
            budget.spend()
            if root is None:
                # An object qpdf could not read (no memory left for it, an object stream
                # it cannot inflate): it drops it with a warning, and it would go unseen.
                raise _Stop
            if not isinstance(root, pikepdf.Dictionary | pikepdf.Stream | pikepdf.Array):
                continue  # a number, a name, a string on its own: nothing to act with
            for container in _containers(root, budget):
                if isinstance(container, pikepdf.Array):
                    continue
                keys = set(container.keys())
                found |= _dictionary(container, keys)
                for action in _triggered(container, keys):
                    found |= _on_open(action)
    except _Stop:
        found.add(UNCHECKED)
    return found


def first(reasons: set[str]) -> str | None:
    """The reason told to the patient, when there are several."""
    return next((r for r in ORDER if r in reasons), None)


def judge(data: bytes) -> str | None:
    """The reason to refuse the PDF in ``data`` (None: nothing but pages), in this process:
    ``scan`` runs it in one of its own."""
    try:
        return _judge(data)
    except MemoryError:  # qpdf ran out of what this process may have
        return UNCHECKED


def _judge(data: bytes) -> str | None:
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError:
        return PASSWORD
    except (pikepdf.PdfError, ValueError, OSError):
        return UNREADABLE
    with pdf:
        if pdf.is_encrypted:
            return LOCKED
        try:
            return first(walk(pdf))
        except (pikepdf.PdfError, ValueError, TypeError):  # qpdf failed on an object
            log.exception("PDF walk failed")
            return UNCHECKED


# --- in a process of its own --------------------------------------------------------------

def scan(data: bytes) -> str | None:
    """``judge``, run in a process of its own with capped memory and CPU time; a process
    that does not answer (killed by its caps, or crashed in qpdf) is UNCHECKED."""
    try:
        done = subprocess.run([sys.executable, "-I", str(Path(__file__).resolve())],
                              input=data, capture_output=True, timeout=WAIT_SECONDS,
                              check=False)
    except subprocess.TimeoutExpired:
        log.warning("PDF check: no answer in %s s", WAIT_SECONDS)
        return UNCHECKED
    answer = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or answer not in (*ORDER, "ok"):
        log.warning("PDF check stopped (exit status %s): %s", done.returncode,
                    done.stderr.decode("utf-8", "replace")[-300:])
        return UNCHECKED
    return None if answer == "ok" else answer


def _cap_this_process() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # no file written (it answers in a pipe)
    pikepdf.settings.set_qpdf_limits(flate_max_memory=INFLATE_LIMIT)


def _main() -> int:
    _cap_this_process()
    data = sys.stdin.buffer.read()
    verdict = judge(data)
    del data
    sys.stdout.write((verdict or "ok") + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
