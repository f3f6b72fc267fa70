"""OpenAISummariser: the Summariser port on the `openai` SDK, for any OpenAI-compatible server.

`base_url` (FIREBREAK_LLM_BASE_URL) points it at vLLM, Ollama, LiteLLM, ...; without one the SDK
uses the provider's own URL (OpenAI's, or OPENAI_BASE_URL as the SDK reads it). `model` is
FIREBREAK_LLM_MODEL. One summary is one chat completion:

- The dossier is redacted, compacted to the token budget, and sent as one JSON document (quoted
  data) under a system prompt that forbids following it (`bot.summary.prompt`).
- Structured output: `response_format` json_schema first; a server that rejects it (400/422)
  is asked again with json_object, and remembered as not supporting json_schema.
- Retries: the SDK's own retries are off (`max_retries=0`, explicit) so this adapter owns the
  policy: at most `max_attempts` tries for timeouts, connection errors, 429 and 5xx, with
  exponential backoff and jitter capped at `max_backoff_s`; a Retry-After longer than that cap
  is not waited for.
- A circuit breaker opens after `failure_threshold` consecutive failed summaries; while open,
  no request is made.
- Every failure ends in the offline summary with `fallback_reason` set; no vendor exception
  leaves this module (they become bot.domain.errors types first).
- The answer's sentences are grounded against the prompt; ungrounded ones are dropped.
- Its cost is the usage priced at the answering model's FIREBREAK_LLM_PRICES entry
  (bot/summary/pricing.py); a model with no price leaves the cost unknown, never $0.
- Every request is counted by model and result with its latency, and a completed summary's
  tokens and estimated cost, through the Telemetry port.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable

import openai
import structlog
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from bot.domain.errors import UpstreamUnavailableError
from bot.domain.telemetry import LLM_CALLS, LLM_COST, LLM_SECONDS, LLM_TOKENS, UNRECORDED
from bot.ports import Telemetry
from bot.settings import Settings
from bot.summary.answer import MalformedAnswerError, grounded_summary, parse_answer
from bot.summary.circuit import CircuitBreaker
from bot.summary.compaction import TokenBudget, estimate_tokens
from bot.summary.dossier import IncidentDossier
from bot.summary.offline import OfflineSummariser
from bot.summary.pricing import PriceList
from bot.summary.prompt import RESPONSE_SCHEMA, SCHEMA_NAME, Prompt, build_prompt
from bot.summary.summary import Summary

log = structlog.get_logger(__name__)

_REJECTED_STATUSES = {400, 422}
_NO_KEY = "unused"  # local servers (vLLM, Ollama) need no key; the SDK insists on one


class LLMRequestFailedError(UpstreamUnavailableError):
    """The LLM call failed; `reason` is a short code (timeout, http_500, bad_request, ...)."""

    def __init__(self, reason: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.retry_after_s = retry_after_s


class OpenAISummariser:
    """Summaries from an OpenAI-compatible chat model, grounded, with offline fallback."""

    def __init__(
        self,
        *,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 3,
        max_backoff_s: float = 8.0,
        budget: TokenBudget | None = None,
        breaker: CircuitBreaker | None = None,
        offline: OfflineSummariser | None = None,
        sleep: Callable[[float], None] = time.sleep,
        prices: PriceList | None = None,
        telemetry: Telemetry = UNRECORDED,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._model = model
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._max_backoff_s = max_backoff_s
        self._budget = budget or TokenBudget()
        self._breaker = breaker or CircuitBreaker("llm", failure_threshold=3, cooldown_s=300.0)
        self._offline = offline or OfflineSummariser()
        self._sleep = sleep
        self._prices = prices or PriceList()
        self._telemetry = telemetry
        self._json_schema_supported = True
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=timeout_s,
            max_retries=0,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, telemetry: Telemetry = UNRECORDED
    ) -> OpenAISummariser:
        """Built from FIREBREAK_LLM_BASE_URL (else the provider's URL) / _MODEL / _API_KEY (or
        OPENAI_API_KEY) / _PRICES."""
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return cls(
            base_url=settings.llm_base_url or None,
            model=settings.llm_model,
            api_key=key,
            timeout_s=settings.llm_timeout_s,
            prices=PriceList(settings.llm_prices),
            telemetry=telemetry,
        )

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    @property
    def base_url(self) -> str:
        """Where requests go: the configured URL or the provider's default."""
        return str(self._client.base_url)

    def summarise(self, dossier: IncidentDossier) -> Summary:
        """A grounded AI summary, or the offline one with `fallback_reason` when the LLM fails."""
        prompt = build_prompt(dossier, self._budget)
        incident_ref = dossier.incident.ref
        if not self._breaker.allow():
            log.info("llm_summary_skipped", incident=incident_ref, reason="circuit_open")
            return self._offline.summarise(dossier, fallback_reason="circuit_open")
        started_s = time.perf_counter()
        try:
            completion = self._complete(prompt)
            content = completion.choices[0].message.content if completion.choices else None
            answer = parse_answer(content)
        except UpstreamUnavailableError as exc:
            self._breaker.record_failure()
            reason = _reason(exc)
            log.warning(
                "llm_summary_failed", incident=incident_ref, reason=reason, error=str(exc)[:300]
            )
            return self._offline.summarise(dossier, fallback_reason=reason)
        self._breaker.record_success()
        triage = prompt.compacted.payload.get("triage") or {}
        kinds = [str(h.get("kind", "")) for h in triage.get("hypotheses", [])]
        summary = grounded_summary(
            answer, prompt.user_content, kinds, model=completion.model or self._model
        )
        price = self._prices.price_of(summary.model, self._model)
        if price is None:
            log.warning("llm_model_unpriced", model=summary.model, setting="FIREBREAK_LLM_PRICES")
        usage = completion.usage
        prompt_tokens = usage.prompt_tokens if usage else prompt.prompt_tokens
        completion_tokens = usage.completion_tokens if usage else estimate_tokens(content or "")
        log.info(
            "llm_summary_completed",
            incident=incident_ref,
            model=summary.model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            dropped_sentences=summary.dropped_sentences,
            compaction_level=prompt.compacted.level,
            latency_ms=round((time.perf_counter() - started_s) * 1000),
        )
        done = dataclasses.replace(
            summary,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            estimated_cost_usd=price.cost_usd(prompt_tokens, completion_tokens) if price else 0.0,
            cost_known=price is not None,
        )
        self._count_usage(done)
        return done

    def _count_usage(self, summary: Summary) -> None:
        model = {"model": self._model}
        self._telemetry.count(LLM_TOKENS, {**model, "kind": "prompt"}, summary.prompt_tokens)
        completion = {**model, "kind": "completion"}
        self._telemetry.count(LLM_TOKENS, completion, summary.completion_tokens)
        if summary.cost_known:  # an unpriced model's cost is unknown, not 0
            self._telemetry.count(LLM_COST, model, summary.estimated_cost_usd)

    def _complete(self, prompt: Prompt) -> ChatCompletion:
        """One completion, json_schema then json_object; raises only our error types."""
        if self._json_schema_supported:
            try:
                return self._with_retries(prompt, _json_schema_format())
            except LLMRequestFailedError as exc:
                if exc.reason != "bad_request":
                    raise
                self._json_schema_supported = False
                log.info("llm_json_schema_rejected", model=self._model, error=str(exc)[:300])
        return self._with_retries(prompt, {"type": "json_object"})

    def _with_retries(self, prompt: Prompt, response_format: ResponseFormat) -> ChatCompletion:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return self._request(prompt, response_format)
            except LLMRequestFailedError as exc:
                if exc.reason in {"bad_request", "auth_failed"} or attempt == self._max_attempts:
                    raise
                wait_s = self._backoff_s(attempt, exc)
                if wait_s is None:
                    raise
                log.info("llm_request_retried", attempt=attempt, reason=exc.reason, wait_s=wait_s)
                self._sleep(wait_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff_s(self, attempt: int, exc: LLMRequestFailedError) -> float | None:
        """Seconds to wait before the next try, or None when a Retry-After exceeds the cap."""
        if exc.retry_after_s is not None:
            return None if exc.retry_after_s > self._max_backoff_s else exc.retry_after_s
        base_s: float = min(self._max_backoff_s, 0.25 * 2 ** (attempt - 1))
        return base_s * random.uniform(0.5, 1.0)

    def _request(self, prompt: Prompt, response_format: ResponseFormat) -> ChatCompletion:
        """One HTTP request, counted by result and timed."""
        started_s = time.perf_counter()
        result = "llm_error"
        try:
            completion = self._send(prompt, response_format)
            result = "ok"
            return completion
        except LLMRequestFailedError as exc:
            result = exc.reason
            raise
        finally:
            model = {"model": self._model}
            self._telemetry.count(LLM_CALLS, {**model, "result": result})
            self._telemetry.observe(LLM_SECONDS, time.perf_counter() - started_s, model)

    def _send(self, prompt: Prompt, response_format: ResponseFormat) -> ChatCompletion:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": prompt.messages[0]["content"]},
            {"role": "user", "content": prompt.user_content},
        ]
        try:
            return self._client.chat.completions.create(
                model=self._model,
                messages=messages,
                response_format=response_format,
                temperature=0,
                max_tokens=self._budget.max_completion_tokens,
                timeout=self._timeout_s,
            )
        except openai.APITimeoutError as exc:
            raise LLMRequestFailedError("timeout", f"no answer within {self._timeout_s} s") from exc
        except openai.APIConnectionError as exc:
            raise LLMRequestFailedError("connection_error", str(exc)) from exc
        except openai.RateLimitError as exc:
            wait_s = _retry_after_s(exc.response.headers)
            raise LLMRequestFailedError("rate_limited", exc.message, retry_after_s=wait_s) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise LLMRequestFailedError("auth_failed", f"HTTP {exc.status_code}") from exc
        except openai.APIStatusError as exc:
            if exc.status_code in _REJECTED_STATUSES:
                raise LLMRequestFailedError("bad_request", exc.message) from exc
            raise LLMRequestFailedError(f"http_{exc.status_code}", exc.message) from exc
        except openai.OpenAIError as exc:
            raise LLMRequestFailedError("llm_error", str(exc)) from exc


def _json_schema_format() -> ResponseFormat:
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": RESPONSE_SCHEMA},
    }


def _retry_after_s(headers: object) -> float:
    """Retry-After (seconds) or retry-after-ms from a 429's headers; 1 s when absent."""
    get = getattr(headers, "get", None)
    if get is None:
        return 1.0
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = get(name)
        if raw:
            try:
                return max(0.0, float(raw) / divisor)
            except ValueError:
                continue
    return 1.0


def _reason(exc: UpstreamUnavailableError) -> str:
    if isinstance(exc, LLMRequestFailedError):
        return exc.reason
    if isinstance(exc, MalformedAnswerError):
        return "malformed_answer"
    return "llm_unavailable"
