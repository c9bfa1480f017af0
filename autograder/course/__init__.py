"""What a course is: its settings (course_config.py), its notebooks read by role, an assignment's spec."""
