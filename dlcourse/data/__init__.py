"""The course's data: where data lives (:mod:`~dlcourse.data.paths`), the one sha256-verified download
into the cache and the fetch on first use (:mod:`~dlcourse.data.fetch`), the registry of data sets,
which the command line and ``make data`` read (:mod:`~dlcourse.data.registry`), the IDX file format
(:mod:`~dlcourse.data.idx`), and one loader module per data set (Fashion-MNIST, the review
sentences, COMPAS, and lesson 10's names and sunspots). Loaders read verified files, fetch missing
ones when the network is there, and otherwise fail with an error that says what to do; nothing is
silently replaced.
"""
