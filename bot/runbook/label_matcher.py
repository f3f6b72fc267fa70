"""Runbooks match incidents with Alertmanager's label matchers; they live with the domain
(bot/domain/label_matchers.py), shared with Alertmanager routing, and are re-exported here."""

from bot.domain.label_matchers import LabelMatcher, MatcherSyntaxError, MatchOp, parse_matcher

__all__ = ["LabelMatcher", "MatchOp", "MatcherSyntaxError", "parse_matcher"]
