"""Grounding: a model's sentence survives only if its specifics appear in the evidence it was given.

Specifics are numbers, times, dates, versions and name-like tokens (anything mixing letters
and digits such as `INC-3`, `llama-3-70b-instruct`, `vllm-0`, `p95`; snake_case identifiers
such as `gpu_cache_usage_perc`; `code spans`). Plain words, including hyphenated ones without
digits (`scale-out`), are not checked.

How each is matched against the evidence text:

- numbers: `0.970` ≈ `0.97`; the evidence value rounded to the model's precision must equal
  the model's value (`3.4` is grounded by `3.42`); thousands separators are ignored. A
  percentage `97%` (or `97 percent`) is grounded by `97` or by `0.97`; `0.97` is grounded by an
  evidence `97%`. Units glued to a number (`94s`, `8.2ms`, `3GB`) are read as the number.
- times: `12:03` is grounded by any evidence time `12:03` or `12:03:xx` (ISO timestamps
  included); `12:03:27` needs the seconds too. Dates must appear verbatim.
- versions (`v1.4.2`, `1.4.2`) and names: present in the evidence (case-insensitive), not
  continued by a letter or digit (`INC-3` is not grounded by `INC-33`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DATE_TIME = re.compile(
    r"\b(?P<date>\d{4}-\d{2}-\d{2})(?:[T ](?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?:\.\d+)?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)?\b"
)
_TIME = re.compile(r"(?<![\w:.])(?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?![\w:])")
_VERSION = re.compile(
    r"(?<![\w.])v?\d+(?:\.\d+){2,}(?:[-+][0-9A-Za-z.]+)?(?![\w])|\bv\d+(?:\.\d+)?\b"
)
_CODE = re.compile(r"`([^`]+)`")
_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/-]*")
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<pct>\s?%|\s?percent\b)?"
)
_NUMBER_WITH_UNIT = re.compile(r"^(?P<num>\d[\d,]*(?:\.\d+)?)(?P<unit>[a-z%]{1,4})$", re.IGNORECASE)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[`*•-])|\n+")
_MAX_DECIMALS = 6


@dataclass(frozen=True)
class GroundedText:
    """The sentences that survived, joined; and the ones dropped, with why."""

    text: str
    dropped: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def dropped_count(self) -> int:
        return len(self.dropped)


class Evidence:
    """The input a model saw, indexed for grounding checks."""

    def __init__(self, text: str) -> None:
        self._text = text.lower()
        self._dates: set[str] = set()
        self._times: set[str] = set()
        for match in _DATE_TIME.finditer(text):
            self._dates.add(match["date"])
            if match["time"]:
                self._add_time(match["time"])
        for match in _TIME.finditer(text):
            self._add_time(match["time"])
        self._rounded: list[set[float]] = [set() for _ in range(_MAX_DECIMALS + 1)]
        numbers_only = _TIME.sub(" ", _DATE_TIME.sub(" ", text))
        for match in _NUMBER.finditer(numbers_only):
            value = _to_float(match["num"])
            self._add_number(value)
            if match["pct"]:
                self._add_number(value / 100)

    def _add_time(self, raw: str) -> None:
        parts = [int(p) for p in raw.split(":")]
        self._times.add(f"{parts[0]:02d}:{parts[1]:02d}")
        if len(parts) == 3:
            self._times.add(f"{parts[0]:02d}:{parts[1]:02d}:{parts[2]:02d}")

    def _add_number(self, value: float) -> None:
        for decimals, bucket in enumerate(self._rounded):
            bucket.add(round(value, decimals))

    def has_number(self, raw: str, percent: bool = False) -> bool:
        """Whether the number written as `raw` (optionally a percentage) is in the evidence."""
        value = _to_float(raw)
        decimals = min(len(raw.split(".")[1]) if "." in raw else 0, _MAX_DECIMALS)
        if round(value, decimals) in self._rounded[decimals]:
            return True
        if percent:
            fraction_decimals = min(decimals + 2, _MAX_DECIMALS)
            return round(value / 100, fraction_decimals) in self._rounded[fraction_decimals]
        return False

    def has_time(self, raw: str) -> bool:
        parts = [int(p) for p in raw.split(":")]
        return ":".join(f"{p:02d}" for p in parts) in self._times

    def has_date(self, raw: str) -> bool:
        return raw in self._dates

    def has_name(self, raw: str) -> bool:
        """Whether `raw` appears in the evidence, not continued by a letter or digit."""
        needle = raw.lower()
        start = self._text.find(needle)
        while start != -1:
            before = self._text[start - 1] if start else " "
            end = start + len(needle)
            after = self._text[end] if end < len(self._text) else " "
            if not before.isalnum() and not after.isalnum():
                return True
            start = self._text.find(needle, start + 1)
        return False


def unsupported(sentence: str, evidence: Evidence) -> list[str]:
    """The specifics in `sentence` that the evidence does not support (empty means grounded)."""
    missing: list[str] = []
    rest = sentence
    for match in _DATE_TIME.finditer(sentence):
        if not evidence.has_date(match["date"]) or (
            match["time"] and not evidence.has_time(match["time"])
        ):
            missing.append(match[0])
    rest = _DATE_TIME.sub(" ", rest)
    for match in _CODE.finditer(rest):
        if not evidence.has_name(match[1].strip()):
            missing.append(match[1])
    rest = _CODE.sub(" ", rest)
    for match in _TIME.finditer(rest):
        if not evidence.has_time(match["time"]):
            missing.append(match["time"])
    rest = _TIME.sub(" ", rest)
    for match in _VERSION.finditer(rest):
        version = match[0]
        bare = version.lstrip("vV")
        if not (evidence.has_name(bare) or evidence.has_name(f"v{bare}")):
            missing.append(version)
    rest = _VERSION.sub(" ", rest)
    for token in _TOKEN.findall(rest):
        token = token.rstrip(".:/-")
        if _is_plain_number(token):
            continue
        unit = _NUMBER_WITH_UNIT.match(token)
        if unit:
            if not evidence.has_number(unit["num"], percent=unit["unit"] == "%"):
                missing.append(token)
        elif _is_name_like(token) and not evidence.has_name(token):
            missing.append(token)
        rest = rest.replace(token, " ", 1) if (unit or _is_name_like(token)) else rest
    for match in _NUMBER.finditer(rest):
        if not evidence.has_number(match["num"], percent=bool(match["pct"])):
            missing.append(match[0].strip())
    return missing


def ground(text: str, evidence: Evidence) -> GroundedText:
    """Keep the sentences of `text` whose specifics are all in the evidence; drop the rest."""
    kept: list[str] = []
    dropped: list[tuple[str, tuple[str, ...]]] = []
    for sentence in split_sentences(text):
        missing = unsupported(sentence, evidence)
        if missing:
            dropped.append((sentence, tuple(missing)))
        else:
            kept.append(sentence)
    return GroundedText(" ".join(kept), tuple(dropped))


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` (decimals, versions and times are not sentence ends)."""
    return [part.strip() for part in _SENTENCE_BREAK.split(text) if part and part.strip()]


def _is_plain_number(token: str) -> bool:
    return bool(re.fullmatch(r"[\d,]+(?:\.\d+)?", token))


def _is_name_like(token: str) -> bool:
    has_digit = any(c.isdigit() for c in token)
    has_alpha = any(c.isalpha() for c in token)
    if has_digit and has_alpha:
        return not re.fullmatch(r"\d+(?:st|nd|rd|th)", token, re.IGNORECASE)
    return has_alpha and "_" in token.strip("_")


def _to_float(raw: str) -> float:
    return float(raw.replace(",", ""))
