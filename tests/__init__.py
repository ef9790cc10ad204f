"""The course's tests, in three parts (CONTRIBUTING.md, "The tests"): unit/ (fast), notebooks/
(tests that execute or inspect notebooks), system/ (the course as people run it); grading/ holds
the grading tests' submissions."""
