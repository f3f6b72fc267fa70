"""The two pieces of slack_sdk the bolt app is given: a Web API client and a signature check.

The composition root builds both from Settings and hands them to `bot/slack_app`, which never
imports slack_sdk: `slack_web_client(token, base_url)` is the bot token's WebClient (pointed at
FIREBREAK_SLACK_API_URL when set), named `SlackWebClient` for the code that holds one, and
`SlackRequestVerifier.is_valid(body, timestamp, signature)` answers whether a request was signed
with the app's signing secret within Slack's five-minute window.
"""

from __future__ import annotations

from typing import TypeAlias

from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

SlackWebClient: TypeAlias = WebClient
WEB_TIMEOUT_S = 10


def slack_web_client(
    token: str, base_url: str = "", timeout_s: int = WEB_TIMEOUT_S
) -> SlackWebClient:
    """A WebClient for the bot token; `base_url` (FIREBREAK_SLACK_API_URL) points it elsewhere."""
    if base_url and not base_url.endswith("/"):
        base_url += "/"
    return WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout_s)


class SlackRequestVerifier:
    """Checks X-Slack-Signature and X-Slack-Request-Timestamp against the signing secret."""

    def __init__(self, signing_secret: str) -> None:
        self._verifier = SignatureVerifier(signing_secret)

    def is_valid(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """True for a body signed with the secret at a timestamp less than five minutes off."""
        return self._verifier.is_valid(body, timestamp, signature)
