"""Readable findings generated deterministically from an algorithm's patterns and rules."""

from bizlogic.mining.insights.common import impact_score, localise

__all__ = ["impact_score", "localise"]
