"""Numbers and results as people read them: below everything else."""
