"""Recall and precision of the class report's similarity section on labelled classes, and its runtime at scale.

    PYTHONPATH=. python3 benchmarks/similarity_recall.py [--tuned 0-399] [--held-out 400-599] [--students 2000]

Prints, for the seeds the thresholds were chosen on (--tuned) and for seeds never looked at while choosing them
(--held-out) apart: per disguise kind how many planted copy pairs were listed, the honest pairs listed per class
(how many classes list none, one, two...), the same classes with one more copier, merged and then renamed and
commented (found, and the honest pairs listed then), how often an honest student's exercise has an honest twin (the
generator's honest variety), and the CPU time `similar_pairs` takes for one class of about `--students` students
(tests/similarity_class.py writes them all).
"""
import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from similarity_class import ASSIGNMENTS, KINDS, MERGED_RENAMED, labelled_class  # noqa: E402

from autograder.present import similarity  # noqa: E402
from autograder.present.similarity import similar_pairs  # noqa: E402


TWIN = 0.9   # an exercise is written alike when the pair shares this much of the larger side's own fingerprints


def twin_share(labelled) -> float:
    """The share of honest students' exercises (ten or more own fingerprints) that another honest student wrote alike
    (TWIN of the larger side's own code): how often honest code alone looks like a copy."""
    copiers = {max(pair) for pair in labelled.copies}   # numbered after the honest students
    codes = {student: cells for student, cells in labelled.codes.items() if student not in copiers}
    kept = frozenset().union(*map(similarity._defined_by, labelled.given))
    given = {digest for code in labelled.given for digest in similarity.fingerprints(code, kept).hashes}
    prints = {student: {e: similarity.fingerprints(code, kept) for e, code in cells.items()}
              for student, cells in codes.items()}
    holders = Counter((e, digest) for mine in prints.values() for e, value in mine.items() for digest in value.hashes)
    common = max(8, len(labelled.codes) // 20)
    own = {(student, e): {d for d in value.hashes if d not in given and holders[e, d] <= common}
           for student, mine in prints.items() for e, value in mine.items()}
    sizable = [key for key, mine in own.items() if len(mine) >= 10]
    twinned = sum(any(other != student and len(own[student, e] & own[other, e]) >= TWIN * max(
        len(own[student, e]), len(own[other, e])) for other in prints if (other, e) in own) for student, e in sizable)
    return twinned / len(sizable)


def seeds(text: str) -> range:
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def measure(what: str, seed_range: range) -> None:
    found, planted, honest, twins, over = Counter(), Counter(), [], [], []
    renamed_found, renamed_honest = 0, []
    for assignment in ASSIGNMENTS:
        for seed in seed_range:
            labelled = labelled_class(assignment, seed)
            twins.append(twin_share(labelled))
            listed = {(pair.first, pair.second) for pair in similar_pairs(labelled.codes, labelled.given)}
            for pair, kind in labelled.copies.items():
                planted[kind] += 1
                found[kind] += pair in listed
            honest.append(len(listed - set(labelled.copies)))
            if honest[-1] > 1:
                over.append(f"{assignment[:2]} seed {seed}")
            labelled = labelled_class(assignment, seed, merged_renamed=True)
            listed = {(pair.first, pair.second) for pair in similar_pairs(labelled.codes, labelled.given)}
            renamed_found += sum(pair in listed for pair, kind in labelled.copies.items() if kind == MERGED_RENAMED)
            renamed_honest.append(len(listed - set(labelled.copies)))
    print(f"{what}: {len(honest)} labelled classes of about 30 students ({', '.join(ASSIGNMENTS)}, "
          f"seeds {seed_range[0]}-{seed_range[-1]})")
    print(f"  {'disguise':<14} {'found':>9}  recall")
    for kind in KINDS:
        print(f"  {kind:<14} {found[kind]:>4}/{planted[kind]:<4}  {found[kind] / planted[kind]:6.0%}")
    listed = sum(found.values()) + sum(honest)
    per_class = Counter(honest)
    print(f"  honest pairs listed: {sum(honest)} in {len(honest)} classes, "
          f"precision {sum(found.values()) / listed:.0%}; classes listing "
          + ", ".join(f"{n}: {per_class[n]}" for n in sorted(per_class)))
    if over:
        print(f"  classes with more than one honest pair: {', '.join(over)}")
    per_class = Counter(renamed_honest)
    print(f"  with a copy merged, then renamed and commented, in each class: {renamed_found}/{2 * len(honest)} "
          f"({renamed_found / (2 * len(honest)):.0%}) of its pairs found; honest pairs {sum(renamed_honest)}, "
          "classes listing " + ", ".join(f"{n}: {per_class[n]}" for n in sorted(per_class)))
    print(f"  honest students' exercises (10+ own fingerprints) another honest student wrote alike: "
          f"{sum(twins) / len(twins):.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuned", type=seeds, default=seeds("0-399"), help="seeds the thresholds were chosen on")
    parser.add_argument("--held-out", type=seeds, default=seeds("400-599"), help="seeds never tuned on")
    parser.add_argument("--students", type=int, default=2000)
    args = parser.parse_args()
    measure("tuned", args.tuned)
    measure("held out", args.held_out)
    for assignment in ASSIGNMENTS:
        labelled = labelled_class(assignment, 0, honest=args.students - 6)
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
