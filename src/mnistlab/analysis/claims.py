"""Published qualitative findings, each with a declared rule that judges it on this lab's numbers.

Some published solutions (mnistlab.analysis.published) report a finding without a number we could set beside
ours: "zero initialisation fails", "the CNN degrades on permuted pixels". Each such finding is a
`PublishedClaim`: the claim in its source's words, what of ours it maps to, and a rule that reads our
findings on one data set and returns a `ClaimVerdict` - ours agrees, differs, or cannot be compared - with our
numbers and their interval or test as the evidence. `claims_paragraph` writes a task's claims as one
paragraph; in the quick profile, a smoke test, it names what each claim maps to and judges none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from mnistlab.analysis.published import SOURCES
from mnistlab.catalog import PROFILES

Agreement = Literal["agrees", "differs", "not compared"]
OUTCOMES: tuple[Agreement, ...] = ("agrees", "differs", "not compared")
_TALLY_WORDS: dict[Agreement, str] = {"agrees": "agree", "differs": "differ", "not compared": "cannot be compared"}

Evidence = TypeVar("Evidence")  # what a rule reads: a task's findings on one data set


@dataclass(frozen=True)
class ClaimVerdict:
    """How our numbers stand to a published claim on one data set, and the numbers that decide it."""

    outcome: Agreement
    evidence: str  # our numbers, with their interval or test

    @staticmethod
    def of(holds: bool, evidence: str) -> ClaimVerdict:
        """'agrees' where the claim holds on our numbers, else 'differs'."""
        return ClaimVerdict("agrees" if holds else "differs", evidence)


@dataclass(frozen=True)
class PublishedClaim(Generic[Evidence]):
    """A published qualitative finding and the rule that judges it on our findings, one data set at a time."""

    id: str
    source: str  # a label of mnistlab.analysis.published.SOURCES
    claim: str  # the finding, in the source's words
    ours: str  # what of ours it is set against
    judge: Callable[[Evidence], ClaimVerdict]
    datasets: tuple[str, ...] | None = None  # the data sets the claim is about; None: each one we ran
    not_here: str = ""  # the part of the claim outside our settings, which no rule can judge

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown source label {self.source!r}")

    def verdicts(self, evidence: Mapping[str, Evidence]) -> list[tuple[str, ClaimVerdict]]:
        """(data set, verdict) for each data set the claim is about, also those this run did not train."""
        return [(d, self.judge(evidence[d]) if d in evidence else
                 ClaimVerdict("not compared", f"{d} was not part of this run"))
                for d in (self.datasets or tuple(evidence))]


def _claim_sentence(claim: PublishedClaim[Evidence], verdicts: list[tuple[str, ClaimVerdict]]) -> str:
    without = f", without {claim.not_here}" if claim.not_here else ""
    judged = " ".join(f"{dataset}: {v.outcome}, {v.evidence}." for dataset, v in verdicts)
    return f"{claim.source}: '{claim.claim}' - ours: {claim.ours}{without}. {judged}"


def claims_paragraph(label: str, claims: Sequence[PublishedClaim[Evidence]], evidence: Mapping[str, Evidence], *,
                     smoke_test: bool) -> str:
    """One paragraph: each claim, labelled as its source's, with our verdict per data set and a tally; in the
    quick profile (`smoke_test`) only what each claim maps to, since 1-2 epochs on a subset decide nothing."""
    sources = sorted({c.source for c in claims})
    whose = " and ".join(sources)
    if smoke_test:
        mapped = "; ".join(f"'{c.claim}' against {c.ours}" for c in claims)
        return (f"{label}: in the quick profile (a smoke test: {PROFILES['quick'].summary}) {whose}'s qualitative "
                f"findings are not judged; a full profile sets each against ours: {mapped}.")
    about = "; ".join(f"{s} is {SOURCES[s]}" for s in sources)
    judged = [(c, c.verdicts(evidence)) for c in claims]
    tally = Counter(v.outcome for _, verdicts in judged for _, v in verdicts)
    counts = ", ".join(f"{tally[o]} {_TALLY_WORDS[o]}" for o in OUTCOMES)
    return (f"{label}: {whose}'s qualitative findings, set against ours ({about}; its networks, settings and "
            f"epochs are its own, so only the direction of each effect is compared). Each verdict is computed "
            f"by a declared rule from our numbers alone. "
            + " ".join(_claim_sentence(c, verdicts) for c, verdicts in judged)
            + f" In all, of {sum(tally.values())} verdicts (claim x data set): {counts}.")
