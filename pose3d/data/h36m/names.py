"""Human3.6M subjects, actions and takes: the standard order and the normalisation of file names.

Distributions spell actions differently (``TakingPhoto`` or ``Photo``, ``WalkingDog`` or ``WalkDog``)
and number the two takes of an action either in the name (``"Directions 1"``) or not at all
(``"Directions"``). ``parse_action`` turns any of these into the standard action name and a take
number (0 where the name carries none), and raises ``UnknownAction`` for anything else.
"""

from __future__ import annotations

import re

#: The 15 actions in the order every results table uses (../shared/h36m/FORMATS.md).
ACTIONS = (
    "Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases", "Sitting",
    "SittingDown", "Smoking", "Photo", "Waiting", "Walking", "WalkDog", "WalkTogether",
)

#: Subjects that have data, in the usual order.
SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")

# Other spellings found in the distributions -> the standard name (compared case-insensitively).
ALIASES = {
    "takingphoto": "Photo",
    "walkingdog": "WalkDog",
    "walkingtogether": "WalkTogether",
}

# Official files that are not an action (the whole session in one file): skipped quietly.
IGNORED_PREFIXES = ("_ALL",)

# The JPEG release numbers actions 2..16 in the standard order.
FIRST_ACTION_INDEX = 2

_NAME = re.compile(r"^\s*([A-Za-z]+)\s*(\d*)\s*$")
_CANONICAL = {a.lower(): a for a in ACTIONS} | ALIASES


class UnknownAction(ValueError):
    """A name that is none of the 15 actions (or their known spellings)."""


def parse_action(name: str) -> tuple[str, int]:
    """"TakingPhoto 1" -> ("Photo", 1); "Directions" -> ("Directions", 0). Raises UnknownAction."""
    match = _NAME.match(name)
    action = _CANONICAL.get(match.group(1).lower()) if match else None
    if action is None:
        raise UnknownAction(f"unknown action name {name!r} (known: {', '.join(ACTIONS)})")
    return action, int(match.group(2) or 0)


def is_ignored(name: str) -> bool:
    return name.startswith(IGNORED_PREFIXES)


def action_from_index(index: int) -> str:
    """The JPEG release's action_idx (2..16) -> the action name. Raises UnknownAction."""
    k = int(index) - FIRST_ACTION_INDEX
    if not 0 <= k < len(ACTIONS):
        raise UnknownAction(f"unknown action index {index} (expected {FIRST_ACTION_INDEX}..{FIRST_ACTION_INDEX + len(ACTIONS) - 1})")
    return ACTIONS[k]


def subject_name(value: str | int) -> str:
    """"S9", "s9", "9" or 9 -> "S9"."""
    text = str(value).strip().upper().lstrip("S")
    if not text.isdigit():
        raise ValueError(f"not a subject: {value!r} (use S1, S5, ... or 1, 5, ...)")
    return f"S{int(text)}"
