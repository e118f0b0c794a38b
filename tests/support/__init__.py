"""Test machinery shared by the tests and scripts/screenshot_app.py: not part of the installed kit."""
