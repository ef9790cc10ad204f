"""Fast unit tests of dlcourse and tools (`make unit`: the maintainer's quick loop)."""
