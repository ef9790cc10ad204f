"""Tests that execute or inspect the notebooks (`make notebook-tests`), and the nbval plugin
(nbval_measured.py) and sanitize file that they and `make notebooks` use."""
