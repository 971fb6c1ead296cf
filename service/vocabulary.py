"""The service's words, defined once: roles and what they may do, reviewers' decisions and the
review statuses they lead to, and the risk bands a score falls in.

Tokens, reviews, the response schemas and the reviewer page all read them from here, so a
role or a decision cannot mean one thing in the API and another on the page.
"""

from __future__ import annotations

from scoring.score import BANDS as SCORE_BANDS
from scoring.score import INSUFFICIENT

ROLES = ("program", "reviewer", "admin")
# What each role may do. Admins manage tokens; they do not read other roles' data.
PERMISSIONS: dict[str, frozenset[str]] = {
    "program": frozenset({"scores", "models"}),
    "reviewer": frozenset({"scores", "models", "explanations", "reviews"}),
    "admin": frozenset({"tokens", "models"}),
}

DECISIONS = ("accept", "flag")
DECISION_LABELS = {"accept": "Accept", "flag": "Flag for follow-up"}  # as the review form says them
UNREVIEWED = "unreviewed"
STATUS_OF_DECISION = {"accept": "accepted", "flag": "flagged"}
REVIEW_STATUSES = (UNREVIEWED, *STATUS_OF_DECISION.values())

# Lowest first, as scoring.bands' cut-points rise: scoring.score assigns them from the calibrated
# probability and defines them; the service says the same words.
BANDS = SCORE_BANDS
INSUFFICIENT_DATA = INSUFFICIENT  # low coverage or no placement (scoring.score.not_ranked_reasons): listed apart


def roles_with(permission: str) -> list[str]:
    """The roles whose tokens may use `permission`, in ROLES order."""
    return [role for role in ROLES if permission in PERMISSIONS[role]]
