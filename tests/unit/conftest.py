"""Settings shared by the unit tests: figures are drawn headless (matplotlib's Agg backend), so
the tests that draw (the demos, the course style, the accessibility checks) need no display and
never open a window. Set here once, before any test module imports pyplot."""

import matplotlib

matplotlib.use("Agg")
