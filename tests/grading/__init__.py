"""Fixtures of the grading tests: a submission of every kind (hostile.py), reading a gradebook."""
