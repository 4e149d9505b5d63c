"""One answers file per assignment (``NAME.py``): correct answers in several styles and typical
wrong answers, each with the hidden tests it must fail. ``tests/test_grading_assignments.py``
runs them all; adding an assignment means adding its file here."""
