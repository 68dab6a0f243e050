"""The `videolearn` command line: a thin adapter over `videolearn.library`."""
