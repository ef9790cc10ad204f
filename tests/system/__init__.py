"""The course as people run it (`make system`): JupyterLab in a real browser, `make lab`, a
Colab-like install, the grader end to end, and the dependency lists it installs from."""
