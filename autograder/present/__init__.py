"""What a reader sees of a result: one view builder, the Jinja2 pages and templates, the feedback pages, the class
report and its similarity leads."""
