"""The course's data: where data lives (:mod:`~dlcourse.data.paths`), sha256-verified downloads into
the cache (:mod:`~dlcourse.data.fetch`), the registry of data sets and whether each is available
offline (:mod:`~dlcourse.data.registry`), and one loader module per data set (Fashion-MNIST, the
review sentences, COMPAS, and lesson 10's names and sunspots). Loaders read verified files and fail
with an error that says what to do; nothing is silently replaced.
"""
