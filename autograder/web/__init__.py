"""`autograder serve`: the web application students submit to and read their feedback on.

`create_app` (app.py) builds it on a course folder: the service tables (store.py) beside the gradebook, a
pool of warm sandboxes (grading.py), the pages of students (student.py) and instructors (instructor.py) as
Jinja2 templates, and the session contract of auth.py that an LMS launch plugs into. Imported lazily, so
that `autograder` commands other than `serve` do not pay for Flask.
"""


def create_app(*args, **kwargs):
    """See app.create_app."""
    from .app import create_app as create

    return create(*args, **kwargs)
