"""The small-cell rule: a count of 1 to 4 is shown as "<5", never as itself.

A figure about fewer than five persons, cases or meldingen can identify people
(one case of radicalisation in Roerdalen this quarter). Whatever the bot sends to
Telegram (/stand, its chart) and `vhbot report --suppress-small` show such a
count as "<5"; 0 stays 0 (nothing to identify), 5 and more are shown as they are.
This is the one place the rule lives.
"""

from __future__ import annotations

from typing import Final

# The smallest count shown as it is.
SMALL_CELL: Final = 5
# How a count of 1 to SMALL_CELL - 1 is written.
LESS_THAN_SMALL: Final = f"<{SMALL_CELL}"


def is_small(count: int) -> bool:
    """Whether `count` is a small cell: 1 to SMALL_CELL - 1 (0 is not)."""
    return 0 < count < SMALL_CELL


def suppressed(count: int) -> int | str:
    """`count` as it may be shown: "<5" for 1 to 4, else the count itself."""
    return LESS_THAN_SMALL if is_small(count) else count
