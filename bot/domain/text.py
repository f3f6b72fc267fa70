"""Text Firebreak keeps: what both databases can store and every response can encode.

PostgreSQL's `text` cannot hold NUL, and no UTF-8 encoder can hold a lone surrogate (a JSON
`"\\ud800"` escape decodes to one). Either, once stored, fails every later read of its row.
Each field takes one of two answers, chosen by what the field is for:

- `IdentityText` refuses them (a 422 naming the field). Identity and attribution fields —
  groupKey, receiver, fingerprint, actor — must stay exactly what was sent: a lossy
  replacement could merge two Alertmanager groups into one incident or forge who acted, and
  Alertmanager never sends either character in them.
- `FreeText` sanitises them: each NUL or lone surrogate becomes U+FFFD. Label and annotation
  names and values, URLs and reasons are read by people; losing a firing alert because its
  description carries one bad character is worse than showing a replacement character.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored as it is (NUL or a lone surrogate), else None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character"
    return f"contains a lone surrogate (U+{ord(found.group()):04X})"


def sanitised(text: str) -> str:
    """`text` with every NUL and lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def sanitised_data(value: Any) -> Any:
    """A JSON-like value both databases' JSON columns accept: strings (keys too) sanitised,
    non-finite floats and anything that is not JSON written as text."""
    if isinstance(value, str):
        return sanitised(value)
    if isinstance(value, dict):
        return {sanitised(str(k)): sanitised_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [sanitised_data(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return sanitised(str(value))


def _refuse_unstorable(text: str) -> str:
    reason = unstorable_reason(text)
    if reason is not None:
        raise ValueError(reason)
    return text


IdentityText = Annotated[str, AfterValidator(_refuse_unstorable)]
"""A string refused (ValueError, so a 422 naming its field) when it holds NUL or a lone
surrogate."""

FreeText = Annotated[str, AfterValidator(sanitised)]
"""A string whose NULs and lone surrogates are replaced by U+FFFD."""

Actor = Annotated[IdentityText, Field(min_length=1, max_length=255)]
"""Who did something (audit log, timeline): a person's or a system's name, refused when it
cannot be stored exactly."""
