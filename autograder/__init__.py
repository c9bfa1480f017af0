"""Auto-graded exercises for the course "How neural networks learn"."""
