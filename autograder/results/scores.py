"""Numbers as people read them: every score in a text or a page goes through `score`, the gradebook keeps full
precision (2.6667 of 7 points is shown as 2.67)."""
from __future__ import annotations

DECIMALS = 2


def score(number: float) -> str:
    """At most two decimals and no trailing zeros: 2.6667 -> '2.67', 8.0 -> '8', 0.5 -> '0.5', -0.001 -> '0'."""
    rounded = round(float(number), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = f"{rounded:.{DECIMALS}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fraction(earned: float, out_of: float) -> str:
    """'2.67/9': a score and its maximum, as the tables show them."""
    return f"{score(earned)}/{score(out_of)}"


def points(earned: float, out_of: float) -> str:
    """'1 of 1 point', '2.67 of 3 points'."""
    return f"{score(earned)} of {score(out_of)} point{'' if out_of == 1 else 's'}"


def count(number: float, noun: str, plural: str | None = None) -> str:
    """'1 point', '2 points', '0.5 points', '1 check'."""
    return f"{score(number)} {noun if number == 1 else plural or noun + 's'}"
