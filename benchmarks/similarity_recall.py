"""Recall and precision of the class report's similarity section on labelled classes, and its runtime at scale.

    PYTHONPATH=. python3 benchmarks/similarity_recall.py [--seeds 8] [--students 2000]

Prints, per disguise kind, how many planted copy pairs were listed, the honest pairs listed per class, and the CPU
time `similar_pairs` takes for one class of about `--students` students (tests/similarity_class.py writes them all).
"""
import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from similarity_class import ASSIGNMENTS, KINDS, labelled_class  # noqa: E402

from autograder.similarity import similar_pairs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--students", type=int, default=2000)
    args = parser.parse_args()
    found, planted, honest = Counter(), Counter(), []
    for assignment in ASSIGNMENTS:
        for seed in range(args.seeds):
            labelled = labelled_class(assignment, seed)
            listed = {(pair.first, pair.second) for pair in similar_pairs(labelled.codes, labelled.given)}
            for pair, kind in labelled.copies.items():
                planted[kind] += 1
                found[kind] += pair in listed
            honest.append(len(listed - set(labelled.copies)))
    print(f"{len(honest)} labelled classes of about 30 students ({', '.join(ASSIGNMENTS)}, seeds 0-{args.seeds - 1})")
    print(f"{'disguise':<14} {'found':>7}  recall")
    for kind in KINDS:
        print(f"{kind:<14} {found[kind]:>3}/{planted[kind]:<3}  {found[kind] / planted[kind]:6.0%}")
    listed = sum(found.values()) + sum(honest)
    print(f"honest pairs listed: {sum(honest)} in {len(honest)} classes (at most {max(honest)} in one class); "
          f"precision {sum(found.values()) / listed:.0%}")
    for assignment in ASSIGNMENTS:
        labelled = labelled_class(assignment, 0, honest=args.students - 7)
        # as generated, many cells are the same text (normalised once); with a comment of their own, none is
        unique = {student: {exercise: f"# {student}\n{code}" for exercise, code in cells.items()}
                  for student, cells in labelled.codes.items()}
        for what, codes in (("as generated", labelled.codes), ("every cell a different text", unique)):
            started = time.process_time()
            pairs = similar_pairs(codes, labelled.given)
            seconds = time.process_time() - started
            print(f"{assignment}: {len(codes)} students, {what}: {seconds:.1f} s of CPU, {len(pairs)} pairs listed")


if __name__ == "__main__":
    main()
