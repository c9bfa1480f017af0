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
c.Autograder.cell_timeout = 5           # wall seconds for one cell or one call of a student's function, at most
# Within it, each cell and call gets max(budget_floor, budget_factor x what the instructor's solution needs there) of
# processor time, timed on the grading machine (autograder/engine/budgets.py); a function that ran out of time once gets
# budget_floor afterwards. Honest code 100 times slower than the solution passes; an endless loop costs a fraction
# of a second. A cell the student wrote gets the budget of the solution's slowest cell.
c.Autograder.budget_floor = 0.1         # processor seconds any cell or call gets at least
c.Autograder.budget_factor = 100        # times the solution's own time
c.Autograder.submission_timeout = 120   # wall seconds for a whole notebook and its checks
c.Autograder.cpu_seconds = 60           # CPU seconds for a whole notebook and its checks
c.Autograder.memory_mb = 512            # address space of the student's process (it needs about 270)
c.Autograder.max_output_kb = 256        # captured stdout/stderr kept per submission
c.Autograder.max_processes = 32         # processes the student's code may have at once
c.Autograder.max_notebook_mb = 50       # a larger submitted notebook gets 0 and a message, unread

# The web service (`autograder serve`): rules per assignment; "default" applies to every assignment, and an
# assignment's own entry overrides it key by key, e.g. "01-gradient-descent": {"due": "2026-12-15 23:59:00 UTC"}.
# before_due / after_due: "score", "worked example" or "full"; counting: "best" or "last".
c.Autograder.policies = {
    "default": {"attempts": 5, "minutes_between": 0, "before_due": "worked example", "after_due": "full",
                "counting": "best"},
}

# LMS rosters (`autograder roster import`): a student's nbgrader id is the first non-empty of these columns of the
# LMS's gradebook export; a value with an @ (an email address or login) counts by the part before the @.
c.Autograder.lms_student_id = {
    "canvas": ["SIS Login ID", "SIS User ID", "ID"],
    "moodle": ["ID number", "Email address"],
}
# Canvas grade export (`autograder export --format canvas`): each assignment's Canvas id, the number at the end of
# its Canvas address (.../assignments/123456); 0 until set.
c.Autograder.canvas_assignment_ids = {
    "01-gradient-descent": 0,
    "02-slopes-and-updates": 0,
    "03-backpropagation": 0,
    "04-linear-regression": 0,
}

# LTI 1.3 grade passback (`autograder lti publish ASSIGNMENT`): this tool's registration on the LMS, copied from
# the LMS's page for the tool (developer key / external tool). Empty values: nothing can be published yet.
c.LTI.issuer = ""           # the platform's issuer (iss)
c.LTI.client_id = ""        # the client id the platform gave this tool
c.LTI.deployment_id = ""    # the deployment id of the tool in this course
c.LTI.token_url = ""        # the platform's OAuth 2 access token URL
# The tool's RSA private key: outside the repository, never committed. `autograder lti keys` creates it and
# prints the public key to register on the platform. key_id: the kid the platform knows it by ("" = thumbprint).
c.LTI.private_key = "~/.config/autograder/lti-private-key.pem"
c.LTI.key_id = ""
# Where the scores go: each assignment's line item URL (grade column), or, for the rest, the course's line items
# URL, where the line item whose resourceId is the assignment's name is found or created.
c.LTI.lineitems = {}        # e.g. {"01-gradient-descent": "https://lms.example.edu/api/lti/courses/7/line_items/31"}
c.LTI.lineitems_url = ""    # e.g. "https://lms.example.edu/api/lti/courses/7/line_items"
c.LTI.retries = 3           # a 5xx, 429 or timeout is tried again this often, after 1, 2, 4 ... seconds
c.LTI.timeout = 30          # seconds for one request
c.LTI.give_up_after = 3     # the platform failed for this many students in a row: the rest are not sent
# A written answer still to be graded by hand: "FullyGraded" sends the autograded points so far (Moodle keeps
# nothing else), "PendingManual" asks the LMS to show the score as waiting for grading (Moodle drops it).
c.LTI.pending_manual = "FullyGraded"
c.LTI.verify = True         # read every score back from the LMS; published = the LMS holds the score sent
# Names and Role Provisioning Services (`autograder lti roster`; publish refuses a non-member): the course's
# memberships URL, and how an LMS member is matched to nbgrader's student: "email", "id_number" or "login".
c.LTI.memberships_url = ""  # Moodle: .../mod/lti/services.php/CourseSection/COURSEID/bindings/TYPEID/memberships
c.LTI.roster_match = "email"
# Launches from the LMS into `autograder serve` (`autograder lti config` prints what to register):
c.LTI.tool_url = ""         # the service's public address, e.g. "https://grader.example.edu"
c.LTI.auth_url = ""         # the platform's OIDC authorization URL (Moodle: .../mod/lti/auth.php)
c.LTI.platform_jwks_url = ""  # the platform's keyset URL (Moodle: .../mod/lti/certs.php)
# The LMS courses this grader serves (one tool registration can serve every course of an LMS): their context ids
# (Moodle: the course id), or dicts with context_id and issuer/client_id/deployment_id. A launch from any other
# course is refused; `autograder lti contexts` lists those that tried, `... approve ID` serves one.
c.LTI.contexts = []
