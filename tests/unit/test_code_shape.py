"""The code keeps its shape: ports are small protocols, and no module grows past 400 lines."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Protocol

import bot.ports

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400


def _protocols() -> dict[str, type]:
    return {
        name: value
        for name, value in vars(bot.ports).items()
        if inspect.isclass(value) and Protocol in value.__mro__[1:]
    }


def _members(protocol: type) -> set[str]:
    own: set[str] = set()
    for klass in protocol.__mro__:
        if klass in (Protocol, object) or klass.__module__ == "typing":
            continue
        own |= {name for name in vars(klass) if not name.startswith("_")}
    return own | ({"__call__"} if "__call__" in vars(protocol) else set())


def test_every_port_has_one_to_five_members() -> None:
    """Each port in bot.ports is a Protocol of at most five methods (or properties, for the
    unit of work, which is the store's aggregate of repositories)."""
    protocols = _protocols()
    assert len(protocols) > 30  # the scan finds the ports
    oversized = {
        name: sorted(members)
        for name, protocol in protocols.items()
        if name != "UnitOfWork" and not 1 <= len(members := _members(protocol)) <= 5
    }
    assert oversized == {}


def test_unit_of_work_methods_beyond_its_repositories_are_few() -> None:
    """The unit of work's own methods (not its repositories) stay within the same bound."""
    unit = bot.ports.UnitOfWork
    methods = {
        name
        for name, value in vars(unit).items()
        if not name.startswith("_") and not isinstance(value, property)
    }
    assert 1 <= len(methods) <= 5, methods


def test_no_module_is_past_four_hundred_lines() -> None:
    """Every module of the service, the workers and the simulator stays under the size at which
    a module asks to be split."""
    modules = [
        path
        for folder in ("bot", "workers", "simulator")
        for path in ROOT.joinpath(folder).rglob("*.py")
    ]
    assert modules
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
