"""Hidden checks: loading and running an assignment's check file against a Submission, the assertions that write the
student's messages, and the visible check cell of every notebook."""
