# The course's configuration: nbgrader's settings and the grading settings this project adds.
# nbgrader reads it through nbgrader_config.py; `autograder` reads the same file.
c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.CourseDirectory.course_id = "how-neural-networks-learn"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# The student release: what replaces a solution region.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE: replace this line with your solution.\nraise NotImplementedError()"
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# nbgrader autograde: one slow or printing cell must not stall or flood the gradebook.
c.ExecutePreprocessor.timeout = 30
c.LimitOutput.max_lines = 200

# The four assignments, in teaching order, each with its one notebook.
c.Autograder.assignments = {
    "01-gradient-descent": "gradient_descent.ipynb",
    "02-slopes-and-updates": "slopes_and_updates.ipynb",
    "03-backpropagation": "backpropagation.ipynb",
    "04-linear-regression": "linear_regression.ipynb",
}

# How hidden checks compare floats: |got - expected| <= atol + rtol * |expected|.
c.Autograder.rtol = 1e-6
c.Autograder.atol = 1e-8

# Limits for one submission in the sandbox (`autograder grade`).
c.Autograder.cell_timeout = 5           # wall seconds for one cell or one call of a student's function
c.Autograder.submission_timeout = 120   # wall seconds for a whole notebook and its checks
c.Autograder.cpu_seconds = 60           # CPU seconds for a whole notebook and its checks
c.Autograder.memory_mb = 512            # address space of the student's process (it needs about 270)
c.Autograder.max_output_kb = 256        # captured stdout/stderr kept per submission
c.Autograder.max_processes = 32         # processes the student's code may have at once
