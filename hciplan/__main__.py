"""Allow `python -m hciplan`."""

from hciplan.cli import main

main()
