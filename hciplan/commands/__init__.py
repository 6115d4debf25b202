"""The `hciplan` subcommands, one module per command or family of commands.

hciplan.cli imports a module here only when one of its commands runs (its
table COMMANDS names the module of each command), so a command's imports and
click objects cost nothing to the others; the helpers the commands share stay
in hciplan.cli.
"""
