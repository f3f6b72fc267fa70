"""Secret redaction: everything that leaves Firebreak (LLM, Slack, postmortems) passes through here.

`redact(text)` replaces secrets with `[REDACTED]`; `redact_obj(obj)` does the same for every
string (and dict key's value) inside nested dicts, lists and tuples. Recognised:

- private key blocks (`-----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----`)
- JWTs (three base64url segments, the first starting `eyJ`)
- authorization values (`Authorization: Basic abc`, `Bearer abc`)
- passwords in URLs (`https://user:pass@host` keeps the user, redacts the password)
- vendor tokens: OpenAI `sk-...`, Slack `xoxb-/xoxp-/xoxa-/xoxr-/xoxs-/xapp-`,
  AWS `AKIA...`/`ASIA...`,
  GitHub `ghp_/gho_/ghu_/ghs_/ghr_/github_pat_`, Google `AIza...`
- generic assignments: `api_key=...`, `token: ...`, `password=...`, `secret=...`, `"api-key": "..."`

Redaction is idempotent: `redact(redact(x)) == redact(x)`.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_AUTH_SCHEME = re.compile(
    r"(?i)(\bbearer|\bauthorization\s*[:=]\s*[A-Za-z-]+)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/=-]{6,}"
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+):(?!\[REDACTED\])[^\s@/]+@")
_VENDOR_TOKENS = re.compile(
    r"\b(?:"
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|xapp-[A-Za-z0-9-]{10,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|AIza[A-Za-z0-9_-]{35}"
    r")"
)
_SENSITIVE_KEYS = (
    r"api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|secret(?:[_-]?key)?|client[_-]?secret"
    r"|token|access[_-]?token|refresh[_-]?token|auth[_-]?token|password|passwd|pwd"
    r"|private[_-]?key|credentials?"
)
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    (?P<key>["']?\b[\w.-]*(?:{_SENSITIVE_KEYS})\b["']?)   # a key naming a secret
    (?P<sep>\s*[:=]\s*)                                  # = or :
    (?!["']?\[REDACTED\])                                # not already redacted
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s"',;&}}]+)         # quoted, or up to a delimiter
    """
)


def redact(text: str) -> str:
    """Replace every recognised secret in `text` with `[REDACTED]`."""
    if not text:
        return text
    text = _PRIVATE_KEY.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    text = _VENDOR_TOKENS.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(rf"\1 {REDACTED}", text)
    return _ASSIGNMENT.sub(_redact_assignment, text)


def _redact_assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group('key')}{match.group('sep')}{quote}{REDACTED}{quote}"


def redact_obj(obj: Any) -> Any:
    """Redact every string inside dicts, lists and tuples; other values pass through unchanged.

    A dict value whose key names a secret (`password`, `api_key`, `token`, ...) is redacted
    whole, whatever it looks like.
    """
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {key: _redact_item(key, value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [redact_obj(item) for item in obj]
    if isinstance(obj, tuple):
        return tuple(redact_obj(item) for item in obj)
    return obj


_SECRET_KEY = re.compile(rf"(?i)^[\w.-]*(?:{_SENSITIVE_KEYS})$")


def _redact_item(key: Any, value: Any) -> Any:
    if isinstance(key, str) and isinstance(value, str) and value and _SECRET_KEY.match(key):
        return REDACTED
    return redact_obj(value)
