"""Pairs of submissions whose solution code is suspiciously alike, for the class report.

copydetect fingerprints each student's code after replacing names with placeholders and dropping comments
and layout (`copydetect.utils.filter_code`), so renamed variables, new comments and reformatting do not hide a
copy. What the course gave (the release notebook) and the reference solution are boilerplate: code that matches
them is expected and never counts. A pair found is a lead for a conversation, never a score change.
"""
from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from copydetect import CodeFingerprint, compare_files

NOISE = 25        # copydetect's noise threshold: shorter matches (in filtered characters) are ignored
GUARANTEE = 30    # matches this long are always found
THRESHOLD = 0.8   # the share of each student's own code that the other has too
MIN_OWN = 80      # filtered characters of a student's own code below which there is too little to judge
MAX_PAIRS = 20


@dataclass(frozen=True)
class SimilarPair:
    first: str
    second: str
    similarity: float       # the smaller of the two shares of alike code
    first_code: str
    second_code: str

    @property
    def percent(self) -> int:
        return round(100 * self.similarity)


def fingerprint(code: str, boilerplate=None) -> CodeFingerprint:
    return CodeFingerprint("solution.py", NOISE, GUARANTEE - NOISE + 1, boilerplate, language="python",
                           fp=io.StringIO(code))


def similar_pairs(codes: dict[str, str], given: list[str], threshold: float = THRESHOLD,
                  limit: int = MAX_PAIRS) -> list[SimilarPair]:
    """The pairs of students (of `codes`: student -> their solution code) whose code is alike beyond `threshold`
    on both sides, leaving out whatever matches `given` (the course's own code and reference solution)."""
    given_hashes = set().union(*(fingerprint(code).hashes for code in given))
    prints = {student: fingerprint(code, sorted(given_hashes)) for student, code in codes.items() if code.strip()}
    # what many students wrote alike is the textbook answer, not a copy (as MOSS's -m option)
    holders = Counter(digest for value in prints.values() for digest in value.hashes)
    common = {digest for digest, count in holders.items() if count > max(3, len(prints) // 10)}
    if common:
        boilerplate = sorted(given_hashes | common)
        prints = {student: fingerprint(codes[student], boilerplate) for student in prints}
    prints = {student: value for student, value in prints.items() if value.token_coverage >= MIN_OWN}
    pairs = []
    for first, second in _candidates(prints, threshold):
        _, (share_first, share_second), _ = compare_files(prints[first], prints[second])
        similarity = float(min(share_first, share_second))
        if similarity >= threshold:
            pairs.append(SimilarPair(first, second, similarity, codes[first], codes[second]))
    pairs.sort(key=lambda pair: (-pair.similarity, pair.first, pair.second))
    return pairs[:limit]


def _candidates(prints: dict[str, CodeFingerprint], threshold: float):
    """Pairs sharing enough fingerprints to possibly pass `threshold`, found through an index of fingerprints
    rather than by comparing every pair (2,000 students make two million pairs)."""
    holders: dict[int, list[str]] = {}
    for student, value in prints.items():
        for digest in value.hashes:
            holders.setdefault(digest, []).append(student)
    shared: Counter = Counter()
    for students in holders.values():
        if len(students) > 1:
            for i, first in enumerate(students):
                for second in students[i + 1:]:
                    shared[first, second] += 1
    for (first, second), count in shared.items():
        if count >= threshold * 0.5 * min(len(prints[first].hashes), len(prints[second].hashes)):
            yield (first, second) if first < second else (second, first)
