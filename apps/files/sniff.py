"""What a file is, judged from its bytes (the client's Content-Type is never trusted).

A short table of signatures covers the documents, images and archives people attach, and
every executable format we refuse; text is recognised by decoding it. Anything else is
`application/octet-stream`. No libmagic: the platform installs nothing beyond Python.
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

HEAD_BYTES = 8192

OCTET_STREAM = "application/octet-stream"

# (offset, signature, content type): the first that matches wins.
_SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"%PDF-", "application/pdf"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/vnd.microsoft.icon"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"BZh", "application/x-bzip2"),
    (0, b"\xfd7zXZ\x00", "application/x-xz"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"Rar!\x1a\x07", "application/vnd.rar"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc .xls .msi
    (0, b"{\\rtf", "application/rtf"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (257, b"ustar", "application/x-tar"),
    # Executables: refused by default (XFLOW_FILE_DENIED_TYPES).
    (0, b"\x7fELF", "application/x-executable"),
    (0, b"MZ", "application/x-msdownload"),
    (0, b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xce\xfa\xed\xfe", "application/x-mach-binary"),
    (0, b"\xfe\xed\xfa\xcf", "application/x-mach-binary"),
    (0, b"\xfe\xed\xfa\xce", "application/x-mach-binary"),
    (0, b"\xca\xfe\xba\xbe", "application/x-mach-binary"),  # universal binary (or Java class)
    (0, b"\x00asm", "application/wasm"),
    (0, b"#!", "text/x-shellscript"),  # a script is text, and still refused
]
# Short signatures also begin ordinary text ("BMW...", "MZ-..."): they count only when the
# bytes are not text. Scripts are the exception.
_TEXT_MAY_START_WITH = {b"BM", b"MZ", b"BZh", b"ID3", b"OggS", b"fLaC", b"II*\x00", b"MM\x00*"}

# ZIP containers by what they hold (the first entry name that matches wins).
_ZIP_KINDS: list[tuple[str, str]] = [
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("META-INF/MANIFEST.MF", "application/java-archive"),
    ("classes.dex", "application/vnd.android.package-archive"),
    ("AndroidManifest.xml", "application/vnd.android.package-archive"),
]


def _riff(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12]
        )
    return None


def _iso_media(head: bytes) -> str | None:
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"qt  ",):
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
        return "video/mp4"
    return None


def _zip_kind(stream: BinaryIO) -> str:
    """A ZIP's flavour from its entry names (the stream must be seekable)."""
    opendoc = None
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                opendoc = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError):
        return "application/zip"
    if opendoc and opendoc.startswith("application/vnd.oasis.opendocument."):
        return opendoc
    for prefix, kind in _ZIP_KINDS:
        if any(name == prefix or name.startswith(prefix) for name in names):
            return kind
    return "application/zip"


def _text_kind(head: bytes, truncated: bool) -> str | None:
    """A text type if the head decodes as UTF-8 text without control characters."""
    sample = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        if not (truncated and exc.start >= len(sample) - 3):
            return None
        text = sample[: exc.start].decode("utf-8")
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    stripped = text.lstrip().lower()
    if stripped.startswith(("<?xml", "<svg")):
        return "image/svg+xml" if "<svg" in stripped[:2048] else "application/xml"
    if stripped.startswith(("<!doctype html", "<html")):
        return "text/html"
    if stripped[:1] in ("{", "["):
        return "application/json"
    return "text/plain"


def sniff(stream: BinaryIO) -> str:
    """The content type of a seekable stream's bytes; the stream is left at its start."""
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    truncated = len(head) == HEAD_BYTES
    try:
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return _zip_kind(stream)
        kind = _riff(head) or _iso_media(head)
        if kind:
            return kind
        text = _text_kind(head, truncated)
        for offset, signature, content_type in _SIGNATURES:
            if head[offset : offset + len(signature)] == signature:
                if text and signature in _TEXT_MAY_START_WITH:
                    break
                return content_type
        return text or OCTET_STREAM
    finally:
        stream.seek(0)
