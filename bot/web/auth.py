"""Token checks for the webhook (bearer or basic) and the API (bearer), in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import HTTPException, status
from pydantic import SecretStr


def presented_token(authorization: str | None, allow_basic: bool) -> str | None:
    """The secret a request presents: a bearer token, or (webhook only) a basic-auth password."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if allow_basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def require_token(expected: SecretStr | None, authorization: str | None, allow_basic: bool) -> None:
    """401 unless the request carries the expected token; with none configured, anyone passes."""
    if expected is None:
        return
    token = presented_token(authorization, allow_basic)
    if token is None or not hmac.compare_digest(
        token.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or wrong token",
            headers={"WWW-Authenticate": 'Bearer realm="firebreak"'},
        )
