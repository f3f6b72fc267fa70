"""Only bot/adapters imports vendor SDKs or catches their exceptions; frameworks stay at their edge.

Celery is the framework of workers/ and slack_bolt that of bot/slack_app/; every other vendor
module (redis, slack_sdk, openai, ...) is reached through an adapter, which translates its
errors into Firebreak's own (bot/domain/errors.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORS = {
    "redis",
    "slack_sdk",
    "openai",
    "prometheus_api_client",
    "kubernetes",
    "sqlalchemy",
    "psycopg",
    "kombu",
}
# A framework may be imported, and its exceptions caught, only under the folders named here.
FRAMEWORKS = {"celery": ("workers/",), "slack_bolt": ("bot/slack_app/",)}


def modules() -> list[Path]:
    """Every module of bot/ and workers/ outside bot/adapters."""
    paths = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]
    return sorted(
        p for p in paths if not p.relative_to(ROOT).as_posix().startswith("bot/adapters/")
    )


def forbidden(module: str, where: str) -> bool:
    """Whether the module at `where` may not use the top-level package of `module`."""
    top = module.split(".")[0]
    if top in VENDORS:
        return True
    return top in FRAMEWORKS and not where.startswith(FRAMEWORKS[top])


def imported(tree: ast.AST) -> dict[str, str]:
    """Each name an import binds, with the dotted path it stands for."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                names[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def imports(tree: ast.AST) -> list[str]:
    """Every module the tree imports (from-imports name their module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def caught(tree: ast.AST) -> list[ast.expr]:
    """Every exception type named by an `except` clause, tuples unpacked."""
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            found.extend(types)
    return found


def origin(expr: ast.expr, names: dict[str, str]) -> str | None:
    """The module path an exception expression refers to (`redis.RedisError` → redis...)."""
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if not isinstance(expr, ast.Name) or expr.id not in names:
        return None
    return ".".join([names[expr.id], *reversed(parts)])


def violations(source: str, where: str) -> list[str]:
    """What the module at `where` imports or catches that it may not, as `file[:line]: what`."""
    tree = ast.parse(source, filename=where)
    found = [f"{where}: imports {module}" for module in imports(tree) if forbidden(module, where)]
    names = imported(tree)
    for expr in caught(tree):
        source_path = origin(expr, names)
        if source_path is not None and forbidden(source_path, where):
            found.append(f"{where}:{expr.lineno}: catches {source_path}")
    return found


def test_no_module_outside_the_adapters_imports_or_catches_a_vendor() -> None:
    """No module of bot/ or workers/ outside bot/adapters imports a vendor SDK, a framework
    outside its edge, or names one of their exceptions in an `except`."""
    checked, found = modules(), []
    assert ROOT / "bot" / "bootstrap.py" in checked
    for path in checked:
        found += violations(path.read_text(), path.relative_to(ROOT).as_posix())
    assert found == []


CATCHES_KOMBU = """
import redis.exceptions
from kombu import exceptions as k
try:
    pass
except (ValueError, k.OperationalError, redis.exceptions.RedisError):
    pass
"""


@pytest.mark.parametrize(
    ("source", "where", "expected"),
    [
        ("import redis\n", "bot/bootstrap.py", ["bot/bootstrap.py: imports redis"]),
        (
            "from slack_sdk.signature import SignatureVerifier\n",
            "bot/slack_app/app.py",
            ["bot/slack_app/app.py: imports slack_sdk.signature"],
        ),
        ("from celery import Celery\n", "bot/bootstrap.py", ["bot/bootstrap.py: imports celery"]),
        ("from celery import bootsteps\n", "workers/heartbeat.py", []),
        ("from slack_bolt import App\n", "bot/web/app.py", ["bot/web/app.py: imports slack_bolt"]),
        ("from slack_bolt import App\n", "bot/slack_app/app.py", []),
        ("from bot.adapters.redis_client import RedisClient\n", "bot/bootstrap.py", []),
        (
            CATCHES_KOMBU,
            "workers/app.py",
            [
                "workers/app.py: imports redis.exceptions",
                "workers/app.py: imports kombu",
                "workers/app.py:6: catches kombu.exceptions.OperationalError",
                "workers/app.py:6: catches redis.exceptions.RedisError",
            ],
        ),
    ],
)
def test_the_check_names_each_crossing(source: str, where: str, expected: list[str]) -> None:
    """The check reports a vendor import or a caught vendor exception with its file, and lets a
    framework through at its own edge and an adapter's own names anywhere."""
    assert violations(source, where) == expected
