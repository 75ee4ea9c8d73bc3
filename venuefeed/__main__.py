"""`python -m venuefeed`."""

from venuefeed.cli import main

main()
