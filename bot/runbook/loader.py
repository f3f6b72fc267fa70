"""Loading runbooks from a directory of YAML files, with every step's params checked against
its action's model. Any problem is a RunbookError naming the file, the line and the reason;
a bad runbook stops startup."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.runbook.actions.registry import ACTIONS, action_named
from bot.runbook.document import Document, parse
from bot.runbook.errors import RunbookError, TemplateError
from bot.runbook.schema import Runbook, Step
from bot.runbook.template import render

RUNBOOK_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class LoadedRunbook:
    runbook: Runbook
    path: Path


class RunbookCatalog:
    """The runbooks Firebreak knows, by name, in file order."""

    def __init__(self, loaded: Sequence[LoadedRunbook]) -> None:
        self._by_name = {item.runbook.name: item for item in loaded}

    def __iter__(self) -> Iterator[Runbook]:
        return (item.runbook for item in self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Runbook | None:
        item = self._by_name.get(name)
        return None if item is None else item.runbook

    def path_of(self, name: str) -> Path | None:
        item = self._by_name.get(name)
        return None if item is None else item.path


class _AnyLabel(Mapping[str, str]):
    """Stands in for an incident's labels at load time: every label exists."""

    def __getitem__(self, name: str) -> str:
        return f"<{name}>"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _AnyFact(_AnyLabel):
    """Stands in for triage's evidence facts at load time: every fact exists, spelt as a
    Kubernetes name (`node`, `xid-class`) so node steps' params validate."""

    def __getitem__(self, name: str) -> str:
        return name.replace("_", "-")


def load_file(path: Path) -> Runbook:
    """Load and check one runbook file; raises RunbookError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunbookError(path, 0, f"cannot read: {exc.strerror or exc}") from exc
    try:
        doc = parse(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        raise RunbookError(path, line, f"not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise RunbookError(path, 0, f"not valid YAML: {exc}") from exc
    if not isinstance(doc.data, dict):
        raise RunbookError(path, doc.line_of(()), "a runbook is a YAML mapping")
    try:
        runbook = Runbook.model_validate(doc.data)
    except ValidationError as exc:
        raise _from_validation(path, doc, exc, ()) from exc
    for section, steps in (("steps", runbook.steps), ("revert", runbook.revert)):
        for index, step in enumerate(steps):
            check_step(path, doc, (section, index), step, runbook.defaults())
    return runbook


def check_step(
    path: Path, doc: Document, loc: tuple[str | int, ...], step: Step, defaults: dict[str, Any]
) -> None:
    """The step's action exists and its params (defaults filled in) satisfy its model."""
    action = action_named(step.action)
    if action is None:
        known = ", ".join(sorted(ACTIONS))
        reason = f"unknown action {step.action!r} (known: {known})"
        raise RunbookError(path, doc.line_of((*loc, "action")), reason)
    try:
        rendered = render(step.params, _AnyLabel(), defaults, _AnyFact())
    except TemplateError as exc:
        raise RunbookError(path, doc.line_of((*loc, "params")), str(exc)) from exc
    try:
        action.Params.model_validate(rendered)
    except ValidationError as exc:
        prefix = f"{loc[0]}[{loc[1]}] {step.action}: "
        raise _from_validation(path, doc, exc, (*loc, "params"), prefix) from exc


def load_directory(path: Path) -> RunbookCatalog:
    """Load every runbook under `path` (a directory or one file); raises the first error."""
    errors, loaded = _load_all(path)
    if errors:
        raise errors[0]
    return RunbookCatalog(loaded)


def validate_path(path: Path) -> list[RunbookError]:
    """Every error in the runbooks under `path`; empty means they all load."""
    errors, _ = _load_all(path)
    return errors


def _load_all(path: Path) -> tuple[list[RunbookError], list[LoadedRunbook]]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in RUNBOOK_SUFFIXES)
    elif path.exists():
        files = [path]
    else:
        return [RunbookError(path, 0, "no such file or directory")], []
    errors: list[RunbookError] = []
    loaded: list[LoadedRunbook] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            runbook = load_file(file)
        except RunbookError as exc:
            errors.append(exc)
            continue
        if runbook.name in seen:
            line = parse(file.read_text(encoding="utf-8")).line_of(("name",))
            reason = f"runbook name {runbook.name!r} already used by {seen[runbook.name]}"
            errors.append(RunbookError(file, line, reason))
            continue
        seen[runbook.name] = file
        loaded.append(LoadedRunbook(runbook, file))
    return errors, loaded


def _from_validation(
    path: Path,
    doc: Document,
    exc: ValidationError,
    base: tuple[str | int, ...],
    prefix: str = "",
) -> RunbookError:
    first = exc.errors(include_url=False)[0]
    loc = (*base, *first["loc"])
    where = ".".join(str(part) for part in loc) or "runbook"
    message = str(first["msg"]).removeprefix("Value error, ")
    return RunbookError(path, doc.line_of(loc), f"{prefix}{where}: {message}")
