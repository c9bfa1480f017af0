"""The trust boundary: the sandbox, the code that runs inside it, the wire format (plain data only), the time budgets
and the Submission a hidden check receives. It knows nothing of checks or results."""
