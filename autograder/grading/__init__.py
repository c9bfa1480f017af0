"""The pipeline: one notebook graded (grade), jobs through a pool of sandboxes or a Dask cluster into a sink (batch,
distributed), nbgrader's gradebook, the autograded copy, nbgrader courses' own tests."""
