"""The `videolearn` command line: a thin adapter over the applications (`videolearn.apps`),
one module per command group. A command translates its arguments into an application's
options and its result into lines; it holds no logic of its own and never touches the
store."""
