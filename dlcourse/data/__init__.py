"""The course's data: paths, the verified fetch, the registry and one loader per data set (modules
listed in docs/architecture.md). A missing or corrupt file is an error that says what to do."""
