"""The `/firebreak` command language: verbs parse to commands, wrong usage explains itself."""

from __future__ import annotations

import pytest

from bot.slack_app.commands import USAGE, Command, UsageError, Verb, help_text, parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command(Verb.HELP)),
        ("help", Command(Verb.HELP)),
        ("list", Command(Verb.LIST)),
        ("LIST all", Command(Verb.LIST, include_resolved=True)),
        ("show INC-12", Command(Verb.SHOW, incident_id=12)),
        ("ack inc-3", Command(Verb.ACK, incident_id=3)),
        ("resolve 4", Command(Verb.RESOLVE, incident_id=4)),
        ("timeline INC-5", Command(Verb.TIMELINE, incident_id=5)),
        ("runbooks", Command(Verb.RUNBOOKS)),
        ("run scale-out INC-9", Command(Verb.RUN, incident_id=9, runbook="scale-out")),
        ("approve RUN-41", Command(Verb.APPROVE, run_id=41)),
        ("deny run-41", Command(Verb.DENY, run_id=41)),
        ("pause", Command(Verb.PAUSE)),
        ("  resume  ", Command(Verb.RESUME)),
        ("postmortem INC-2", Command(Verb.POSTMORTEM, incident_id=2)),
    ],
)
def test_each_verb_parses(text: str, expected: Command) -> None:
    """Every documented verb parses to its command with its ids."""
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "verb"),
    [
        ("show", Verb.SHOW),
        ("ack INC-x", Verb.ACK),
        ("ack INC-0", Verb.ACK),
        ("resolve INC-1 INC-2", Verb.RESOLVE),
        ("run INC-9", Verb.RUN),
        ("run 'rm -rf' INC-9", Verb.RUN),
        ("approve", Verb.APPROVE),
        ("approve INC-3", Verb.APPROVE),
        ("pause now", Verb.PAUSE),
        ("list closed", Verb.LIST),
    ],
)
def test_wrong_usage_answers_that_verbs_usage(text: str, verb: Verb) -> None:
    """A malformed command raises UsageError carrying the verb's usage line."""
    with pytest.raises(UsageError) as caught:
        parse_command(text)
    assert caught.value.usage == USAGE[verb]
    assert str(caught.value)


def test_unknown_verb_answers_the_whole_help() -> None:
    """An unknown verb shows every usage line."""
    with pytest.raises(UsageError, match="unknown command 'reboot'") as caught:
        parse_command("reboot everything")
    assert caught.value.usage == help_text()
    assert all(line in caught.value.usage for line in USAGE.values())
