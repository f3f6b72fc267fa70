"""Secret redaction before anything leaves Firebreak."""

from __future__ import annotations

import pytest

from bot.domain.redaction import REDACTED, redact, redact_obj

SECRETS = [
    ("openai key", "key sk-proj-Zx81Yw72Vu63Ts54Rq45Po36 used", "sk-proj-Zx81Yw72Vu63Ts54Rq45Po36"),
    ("slack bot token", "xoxb-123456789012-abcdefghijkl", "xoxb-123456789012-abcdefghijkl"),
    ("slack user token", "xoxp-1234567890-abcdefABCDEF", "xoxp-1234567890-abcdefABCDEF"),
    ("slack app token", "xapp-1-A0123-4567-abcdef0123", "xapp-1-A0123-4567-abcdef0123"),
    ("aws access key", "aws AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("github token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz"),
    ("api_key assignment", "api_key=AbC123xyz&model=x", "AbC123xyz"),
    ("token assignment", "token: t0k3n-value", "t0k3n-value"),
    ("quoted password", 'password: "hunter two"', "hunter two"),
    ("json key", '{"api-key": "abc123"}', "abc123"),
    ("bearer", "Authorization: Bearer abcdef0123456789", "abcdef0123456789"),
    ("url password", "postgres://app:s3cr3t@db:5432/firebreak", "s3cr3t"),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N",
    ),
    (
        "private key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA",
    ),
]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS, ids=[s[0] for s in SECRETS])
def test_each_secret_kind_is_redacted(kind: str, text: str, secret: str) -> None:
    """Every recognised kind of secret is replaced by [REDACTED]."""
    result = redact(text)
    assert secret not in result
    assert REDACTED in result


@pytest.mark.parametrize(
    "text",
    [
        "p95 latency 8.23 s on llama-3-70b-instruct (v1.4.2) at 12:03",
        "the token bucket refilled; max_tokens=4096",
        "basic connectivity check passed for pod vllm-0",
        "scale-out verified in 94 s",
    ],
)
def test_ordinary_incident_text_is_untouched(text: str) -> None:
    """Text without secrets comes back unchanged."""
    assert redact(text) == text


def test_redaction_is_idempotent() -> None:
    """Redacting twice gives the same text as redacting once."""
    text = "api_key=abc Bearer abcdef0123456789 https://u:p4ss@h/x"
    assert redact(redact(text)) == redact(text)


def test_url_keeps_the_user_and_host() -> None:
    """A URL password is redacted while the user and host stay readable."""
    assert redact("https://bob:pw123@grafana.local/d") == "https://bob:[REDACTED]@grafana.local/d"


def test_redact_obj_recurses_and_redacts_secret_keys_whole() -> None:
    """Nested dicts, lists and tuples are redacted; values under secret-named keys vanish whole."""
    data = {
        "labels": {"password": "plain", "model": "llama"},
        "notes": ["Bearer abcdef0123456789", ("token=xyz",)],
        "count": 3,
    }
    result = redact_obj(data)
    assert result["labels"] == {"password": REDACTED, "model": "llama"}
    assert result["notes"][0] == f"Bearer {REDACTED}"
    assert result["notes"][1] == (f"token={REDACTED}",)
    assert result["count"] == 3
