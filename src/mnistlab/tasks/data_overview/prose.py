"""The data overview's discussion, paragraphs by id, written from the facts it computed: 'balance' (how
evenly each dataset's classes fill its splits) and 'groups' (Task 6's groups and the baseline they set)."""

from __future__ import annotations

from mnistlab.data import DATASETS, FASHION_GROUP_NAMES
from mnistlab.tasks.base import Paragraph
from mnistlab.tasks.data_overview.config import Config
from mnistlab.tasks.data_overview.findings import CLASSES, Findings

TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
CLASS_WORD = {"mnist": "digit"}  # what one class of a dataset is called ("class" where not listed)


def prose(f: Findings, config: Config) -> dict[str, str]:
    return {"balance": Paragraph(" ".join(_balance(f, name) for name in DATASETS)), "groups": _groups(f)}


def _range(counts) -> str:
    return f"from {counts.min():,} to {counts.max():,} images per"


def _balance(f: Findings, name: str) -> str:
    """One sentence on how evenly the classes of `name` fill its splits, with the chance accuracy that follows."""
    title, word = TITLES.get(name, name), CLASS_WORD.get(name, "class")
    train, test = f.counts[(name, "train")], f.counts[(name, "test")]
    if f.balanced(name, "train") and f.balanced(name, "test"):
        return f"{title} has exactly {train[0]:,} training and {test[0]:,} test images per class."
    if f.balanced(name, "train"):
        return (f"{title} has exactly {train[0]:,} training images per {word}; its test classes range "
                f"{_range(test)} {word}.")
    uniform, commonest = 100 / CLASSES, 100 * train.max() / train.sum()
    chance = (f"{uniform:.0f}-{commonest:.0f}%" if f"{uniform:.0f}" != f"{commonest:.0f}" else f"{uniform:.0f}%")
    return (f"{title}'s training classes are not perfectly balanced: {_range(train)} {word} (class "
            f"{int(train.argmin())} is rarest), so chance accuracy is about {chance}.")


def _groups(f: Findings) -> Paragraph:
    sizes = [len(items) for items in f.group_items]
    listed = ", ".join(str(n) for n in sizes[:-1]) + f" and {sizes[-1]}"
    how = (f"unbalanced by construction ({listed} items)" if len(set(sizes)) > 1 else
           f"balanced ({sizes[0]} items each)")
    return Paragraph(f"The groups of Task 6 are {how}, so a constant guess of "
                     f"'{FASHION_GROUP_NAMES[f.majority_group]}' already scores {f.majority_group_share:.0%} on the "
                     f"group task.")
