"""The course author's imports, kept where check files and notebooks of every course find them:
the code lives in autograder.engine.submission (docs/pipeline.md, "Pipeline and layout")."""
# relayout: compatibility module
from autograder.engine.submission import *  # noqa: F401,F403
