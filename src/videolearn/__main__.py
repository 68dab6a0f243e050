"""`python -m videolearn` runs the command line."""

from videolearn.cli.main import main

main()
