"""Attack programs for the hostile-program suite (tests/test_sandbox_hostile.py)."""
