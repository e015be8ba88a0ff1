"""Text that a student (or Gradescope's metadata) chose, made safe for where an instructor reads it.

* ``terminal(text)``: for the terminal and logs: every control or format character is shown escaped, as text
  (``\\x1b``), so that no escape sequence can retitle the terminal, erase a line or forge a progress line;
* ``cell(value)``: for a CSV that a spreadsheet opens: control characters removed, and a text that a spreadsheet
  would read as a formula (it begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading
  ``'`` (OWASP's advice on CSV injection); numbers stay numbers;
* ``folder_name(key)``: a folder name derived from an upload's name: the name itself when it is plain, else a
  plain version of it with a short hash of the original, so that two names never share a folder.
"""

import hashlib
import re
import unicodedata

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _control(ch):
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def terminal(text):
    """``text`` with every control, format or separator character escaped as Python writes it (``\\x1b``)."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if _control(ch) else ch for ch in str(text))


def cell(value):
    """A spreadsheet-safe cell: numbers as they are; text without control characters, and with a leading ``'``
    when a spreadsheet would read it as a formula."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    formula = text.startswith(FORMULA_STARTS)
    text = "".join(ch for ch in text if not _control(ch))
    return "'" + text if formula or text.startswith(FORMULA_STARTS) else text


def folder_name(key):
    """A plain folder name for the upload called ``key``: ``key`` itself when it is plain (letters, digits, ``.``,
    ``_`` and ``-``, not starting with a dot), else its plain characters and 10 hex digits of its SHA-256."""
    if PLAIN_NAME.fullmatch(key) and key not in (".", ".."):
        return key
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._-")[:60] or "upload"
    return f"{plain}-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
