"""Hidden reference implementations, one module per assignment (never shown to students)."""
