"""PrometheusMetricsSource: the MetricsSource port on prometheus-api-client's PrometheusConnect;
PrometheusAlertHistory: the AlertHistory port on its `ALERTS` series.

Every query states its own start/end (never the library's defaults), carries a per-query
timeout (sent to Prometheus as `timeout` too, so it gives up at the same moment), and at most
`max_concurrent` queries are in flight from one source. The step is widened when needed so a
range stays within Prometheus's 11,000 points per series. Vendor errors are translated:
HTTP 400 / 422 become `BadQueryError`; connection failures, timeouts, retries exhausted,
5xx and unreadable answers become `UpstreamUnavailableError`. An empty result is `[]`.
"""

from __future__ import annotations

import math
import re
import threading
from datetime import datetime, timedelta
from typing import Any, cast

import requests
import structlog
import yaml
from prometheus_api_client.exceptions import PrometheusApiClientException
from prometheus_api_client.prometheus_connect import PrometheusConnect
from urllib3.util.retry import Retry

from bot.domain.alert_history import GAP_EVALUATIONS, FiringInterval, firing_intervals
from bot.domain.durations import parse_duration_s
from bot.domain.errors import UpstreamUnavailableError
from bot.domain.findings import BadQueryError
from bot.domain.signals import Series
from bot.settings import mask_url

log = structlog.get_logger(__name__)

MAX_POINTS_PER_SERIES = 11_000
_STATUS = re.compile(r"HTTP Status Code (\d{3})")
_REJECTED_STATUSES = {400, 422}


def step_for(start: datetime, end: datetime, step_s: float) -> float:
    """`step_s`, widened to whole seconds if the range would exceed 11,000 points."""
    if step_s <= 0:
        raise ValueError(f"step_s must be positive, got {step_s}")
    range_s = max(0.0, (end - start).total_seconds())
    if range_s / step_s <= MAX_POINTS_PER_SERIES:
        return step_s
    return float(math.ceil(range_s / MAX_POINTS_PER_SERIES))


def _require_aware(*moments: datetime | None) -> None:
    for moment in moments:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("query times must be timezone-aware")


def _points(raw: list[Any]) -> list[tuple[float, float]]:
    return [(float(ts), float(value)) for ts, value in raw]


def _series(result: Any) -> list[Series]:
    """Our Series from a matrix, vector or scalar `data.result`."""
    if not isinstance(result, list):
        raise TypeError(f"unexpected result type {type(result).__name__}")
    if len(result) == 2 and not isinstance(result[0], dict):  # a scalar: [ts, "value"]
        return [Series({}, _points([result]))]
    series: list[Series] = []
    for item in result:
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        if "values" in item:
            series.append(Series(labels, _points(item["values"])))
        elif "value" in item:
            series.append(Series(labels, _points([item["value"]])))
    return series


class PrometheusMetricsSource:
    """Range and instant PromQL against one Prometheus, with timeouts and bounded concurrency."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        max_concurrent: int = 4,
        headers: dict[str, str] | None = None,
        connect_retries: int = 1,
    ) -> None:
        if not url:
            raise ValueError("a Prometheus URL is required")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = headers
        self.headers = dict(headers or {})
        self._connect_retries = connect_retries
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._local = threading.local()
        self._clients: list[PrometheusConnect] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> PrometheusConnect:
        """One client per thread: a requests.Session is not safe to share across threads."""
        client: PrometheusConnect | None = getattr(self._local, "client", None)
        if client is None:
            # No retries on status or read: a 5xx or a timeout is reported, not repeated.
            retry = Retry(
                total=self._connect_retries,
                connect=self._connect_retries,
                read=False,
                status=0,
                other=0,
                backoff_factor=0.1,
                raise_on_status=False,
            )
            client = PrometheusConnect(
                url=self.url,
                headers=dict(self._headers or {}),
                retry=retry,
                # requests takes float seconds; the library annotates `timeout` as int.
                timeout=cast("int", self.timeout_s),
            )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _call(self, what: str, promql: str, **kwargs: Any) -> list[Series]:
        params = {"timeout": f"{self.timeout_s:g}s"}
        with self._slots:
            client = self._client()
            try:
                if what == "query_range":
                    result = client.custom_query_range(promql, params=params, **kwargs)
                else:
                    result = client.custom_query(promql, params={**params, **kwargs})
                return _series(result)
            except PrometheusApiClientException as exc:
                match = _STATUS.search(str(exc))
                status = int(match.group(1)) if match else 0
                if status in _REJECTED_STATUSES:
                    log.warning("prometheus_query_rejected", status=status, promql=promql)
                    raise BadQueryError(f"Prometheus rejected the query ({status}): {exc}") from exc
                log.warning("prometheus_query_failed", status=status, promql=promql)
                raise UpstreamUnavailableError(f"Prometheus answered {status or exc}") from exc
            except requests.exceptions.Timeout as exc:
                log.warning("prometheus_query_timed_out", timeout_s=self.timeout_s, promql=promql)
                raise UpstreamUnavailableError(
                    f"Prometheus did not answer within {self.timeout_s:g}s"
                ) from exc
            except requests.exceptions.RequestException as exc:
                log.warning(
                    "prometheus_unreachable", url=mask_url(self.url), error=type(exc).__name__
                )
                raise UpstreamUnavailableError(
                    f"Prometheus unreachable at {mask_url(self.url)}: {type(exc).__name__}"
                ) from exc
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("prometheus_answer_unreadable", error=str(exc), promql=promql)
                raise UpstreamUnavailableError(f"unreadable Prometheus answer: {exc}") from exc

    def query_range(
        self, promql: str, start: datetime, end: datetime, step_s: float
    ) -> list[Series]:
        """Series of `promql` from `start` to `end`; [] when nothing matches (no data)."""
        _require_aware(start, end)
        if end < start:
            raise ValueError("end is before start")
        step = step_for(start, end, step_s)
        return self._call("query_range", promql, start_time=start, end_time=end, step=str(step))

    def query(self, promql: str, at: datetime | None = None) -> list[Series]:
        """The instant value of `promql` at `at` (Prometheus's now when None)."""
        _require_aware(at)
        extra = {} if at is None else {"time": f"{at.timestamp():.3f}"}
        return self._call("query", promql, **extra)

    def close(self) -> None:
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


FIRING_ALERTS = 'timestamp(ALERTS{alertstate="firing"})'
"""The time of each firing sample of every alert: a series that stopped keeps its last time
through the lookback window (backfilled blocks have no staleness markers), so a firing ends
where its sample times stop advancing, however long the lookback."""
DEFAULT_EVALUATION_INTERVAL_S = 60.0


class PrometheusAlertHistory:
    """The AlertHistory port on Prometheus's `ALERTS` series: firings over a range, read with
    range queries at the rule evaluation interval (chunked to stay within 11,000 points)."""

    def __init__(self, source: PrometheusMetricsSource, *, interval_s: float | None = None) -> None:
        self._source = source
        self._interval_s = interval_s

    def evaluation_interval_s(self) -> float:
        """The shortest interval of a rule group with alerting rules (`/api/v1/rules`), else the
        global `evaluation_interval` (`/api/v1/status/config`), else Prometheus's default."""
        if self._interval_s is None:
            self._interval_s = self._rules_interval_s() or self._global_interval_s()
            log.info("alert_history_interval", interval_s=self._interval_s)
        return self._interval_s

    def firing(self, start: datetime, end: datetime) -> list[FiringInterval]:
        """Every alert's firings between `start` and `end`, earliest first; one already firing
        at `start` starts before it."""
        _require_aware(start, end)
        if end < start:
            raise ValueError("end is before start")
        step_s = self.evaluation_interval_s()
        chunk = timedelta(seconds=step_s * (MAX_POINTS_PER_SERIES - 1))
        times: dict[tuple[tuple[str, str], ...], list[float]] = {}
        # read a little before `start`, so a firing that began earlier starts before it
        chunk_start = start - timedelta(seconds=GAP_EVALUATIONS * step_s)
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + chunk)
            for series in self._source.query_range(FIRING_ALERTS, chunk_start, chunk_end, step_s):
                key = tuple(sorted(series.labels.items()))
                times.setdefault(key, []).extend(value for _, value in series.points)
            chunk_start = chunk_end + timedelta(seconds=step_s)
        found = [
            interval
            for key, samples in times.items()
            for interval in firing_intervals(dict(key), samples, step_s, end)
        ]
        return sorted(found, key=lambda f: (f.start, sorted(f.labels.items())))

    def _rules_interval_s(self) -> float | None:
        data = self._api("/api/v1/rules", {"type": "alert"})
        intervals = [
            float(group["interval"])
            for group in (data or {}).get("groups", [])
            if group.get("interval") and any(r.get("type") == "alerting" for r in group["rules"])
        ]
        return min(intervals) if intervals else None

    def _global_interval_s(self) -> float:
        data = self._api("/api/v1/status/config", {})
        try:
            config = yaml.safe_load((data or {}).get("yaml", "")) or {}
            text = (config.get("global") or {}).get("evaluation_interval")
            return parse_duration_s(str(text)) if text else DEFAULT_EVALUATION_INTERVAL_S
        except (yaml.YAMLError, ValueError, AttributeError) as exc:
            log.warning("prometheus_config_unreadable", error=str(exc))
            return DEFAULT_EVALUATION_INTERVAL_S

    def _api(self, path: str, params: dict[str, str]) -> Any:
        """One GET of Prometheus's HTTP API: its `data`, or None when it cannot say."""
        source = self._source
        try:
            response = requests.get(
                source.url + path,
                params=params,
                headers=source.headers,
                timeout=source.timeout_s,
            )
            response.raise_for_status()
            return response.json().get("data")
        except requests.exceptions.HTTPError as exc:
            log.warning("prometheus_api_refused", path=path, error=str(exc))
            return None
        except requests.exceptions.RequestException as exc:
            raise UpstreamUnavailableError(
                f"Prometheus unreachable at {mask_url(source.url)}: {type(exc).__name__}"
            ) from exc
        except ValueError as exc:
            raise UpstreamUnavailableError(f"unreadable Prometheus answer: {exc}") from exc
