"""Which subjects train and which test, and how densely each side's frames are sampled.

- ``protocol1``: train S1 S5 S6 S7 S8, test S9 S11 (Protocols 1 and 2 of the literature: MPJPE and
  P-MPJPE on the same split);
- ``seed``: train S1 S5 S6 S7 S8 S9, test S11 (the split of the project's original seed).

Frame subsampling differs between papers, so it is a parameter (defaults: every 5th frame for
training, every 64th for testing) and is printed with every result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pose3d.data.h36m.names import subject_name

ROLES = ("train", "test")


@dataclass(frozen=True)
class Split:
    """Train and test subjects and the frame stride of each side."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    train_every: int = 5
    test_every: int = 64

    def __post_init__(self) -> None:
        both = set(self.train) & set(self.test)
        if both:
            raise ValueError(f"subjects in both train and test: {', '.join(sorted(both))}")
        if self.train_every < 1 or self.test_every < 1:
            raise ValueError("frame strides must be at least 1")

    @property
    def subjects(self) -> tuple[str, ...]:
        return self.train + self.test

    def role(self, subject: str) -> str:
        if subject in self.train:
            return "train"
        if subject in self.test:
            return "test"
        raise KeyError(f"{subject} is in neither side of split {self.name!r}")

    def every(self, subject: str) -> int:
        """The frame stride of a subject's side."""
        return self.train_every if self.role(subject) == "train" else self.test_every

    def describe(self) -> str:
        """One line for result headers, e.g. 'protocol1: train S1 ... (every 5th frame), test S9 S11 (every 64th)'."""
        return (f"{self.name}: train {' '.join(self.train) or '-'} (every {_nth(self.train_every)} frame), "
                f"test {' '.join(self.test) or '-'} (every {_nth(self.test_every)} frame)")

    def to_dict(self) -> dict:
        return {"name": self.name, "train": list(self.train), "test": list(self.test),
                "train_every": self.train_every, "test_every": self.test_every}

    @classmethod
    def from_dict(cls, d: dict) -> "Split":
        return cls(d["name"], tuple(d["train"]), tuple(d["test"]), int(d["train_every"]), int(d["test_every"]))


def _nth(n: int) -> str:
    if n == 1:
        return "1st"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


SPLITS = {
    "protocol1": Split("protocol1", ("S1", "S5", "S6", "S7", "S8"), ("S9", "S11")),
    "seed": Split("seed", ("S1", "S5", "S6", "S7", "S8", "S9"), ("S11",)),
}


def make_split(
    name: str = "protocol1",
    train_every: int = 5,
    test_every: int = 64,
    train: Sequence[str] | None = None,
    test: Sequence[str] | None = None,
) -> Split:
    """A named split, optionally with its subject lists replaced (``train``/``test``) and strides set."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose from {', '.join(SPLITS)}")
    base = SPLITS[name]
    tr = base.train if train is None else tuple(subject_name(s) for s in train)
    te = base.test if test is None else tuple(subject_name(s) for s in test)
    custom = train is not None or test is not None
    return Split(f"{name}+custom" if custom else name, tr, te, train_every, test_every)
