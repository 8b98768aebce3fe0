"""File names as people gave them, made safe to store, show and send back in a header."""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 200
MAX_EXTENSION_CHARS = 16
FALLBACK_NAME = "file"

# Reserved by Windows (and awkward everywhere): replaced, so a download saves as it shows.
_RESERVED = set('<>:"/\\|?*')
_DEVICE_NAMES = {"CON", "PRN", "AUX", "NUL"}
_DEVICE_NAMES |= {f"{port}{i}" for port in ("COM", "LPT") for i in range(10)}


def sanitise_filename(raw: str | None) -> str:
    """A bare file name: no directories, control or format characters (NUL, bidi overrides),
    reserved characters or leading dots; at most MAX_NAME_CHARS, keeping the extension."""
    name = unicodedata.normalize("NFC", raw or "")
    # The last path part, whichever separator the client's system uses.
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if c.isspace() else "_" if c in _RESERVED else c
        for c in name
        if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")
    )
    name = " ".join(name.split())  # tabs, newlines and runs of spaces: one space
    name = name.strip(" .")
    if not name:
        return FALLBACK_NAME
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > MAX_EXTENSION_CHARS:
        stem, dot, extension = name, "", ""
    if stem.split(".")[0].upper() in _DEVICE_NAMES:
        stem = "_" + stem
    room = MAX_NAME_CHARS - len(dot) - len(extension)
    return (stem[:room].rstrip(" .") or FALLBACK_NAME) + dot + extension
