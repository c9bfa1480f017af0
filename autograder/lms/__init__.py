"""LMS integration: rosters and submissions in, grades and feedback out (Canvas, Moodle, Gradescope, LTI 1.3)."""
