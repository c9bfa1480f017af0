"""What a result page shows of a graded attempt: `view.build` of the result under the visibility the
assignment's policy allows now (`score`, `worked example` or `full`), with the gradebook's hand grades and late
penalty applied: the same scores, messages and figures as `autograder feedback`, drawn by the same template."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..results.wording import with_hand_grades
from ..results.model import SubmissionResult
from ..present.view import ResultView, Shown, build, headline
from .gradebook_view import GradebookMarks

CACHE_SIZE = 256                     # result views kept built


@dataclass(frozen=True)
class Standing:
    """An attempt's score as nbgrader's gradebook counts it, the same on every page that shows it."""
    earned: float          # autograded points and the hand grades given so far
    max_score: float
    pending: float         # written answers' points not graded by hand yet: left out, not counted as 0
    late_penalty: float    # nbgrader's late-submission penalty
    counts: bool           # only the counting attempt's written answers are graded by hand

    @property
    def score(self) -> float:
        return max(0.0, round(self.earned - self.late_penalty, 4))

    def summary(self) -> str:
        """E.g. "0 of 7 points so far (7 earned, less a late-submission penalty of 7); 2 more points to be graded
        by your instructor" (view.headline: the same words as every other reader's)."""
        return headline(self.score, self.max_score, self.pending, self.late_penalty, self.earned, self.counts)


def counted(result: SubmissionResult, marks: GradebookMarks | None, counts: bool) -> Standing:
    """What `result` counts for: the gradebook's hand grades applied to it in place (`with_hand_grades`, as
    `autograder feedback` and `report` do) and its late penalty taken off; `marks` is None for an attempt
    that is not the one in the gradebook."""
    marks = marks or GradebookMarks()
    with_hand_grades(result, marks.hand_grades)
    return Standing(result.score, result.max_score, result.pending_points, marks.late_penalty, counts)


_cache: OrderedDict = OrderedDict()
_cache_lock = threading.Lock()


def result_view(result: SubmissionResult, shown: Shown, key=None, marks: GradebookMarks | None = None,
                counts: bool = False) -> ResultView:
    """The page's data; `key` (an attempt's id and finish time) caches it; `marks`: what the gradebook adds
    to the counting attempt (hand grades given in formgrader, the late penalty)."""
    cache_key = (key, shown, marks.key() if marks else None, counts) if key is not None else None
    if cache_key is not None:
        with _cache_lock:
            if cache_key in _cache:
                _cache.move_to_end(cache_key)
                return _cache[cache_key]
    standing = counted(result, marks, counts)
    view = build(result, shown, standing.late_penalty, counts)
    if cache_key is not None:
        with _cache_lock:
            _cache[cache_key] = view
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return view
