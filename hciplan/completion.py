"""Shell completion callbacks: node names and steps for `--fail NODE:STEP[:MODE]`, scenarios, codes.

click completes commands and options by itself once the shell has loaded its
script (`_HCIPLAN_COMPLETE=bash_source hciplan`, see the README); these
callbacks complete the values that depend on the file being planned. They read
FILE from what is already on the command line, and never fail: a missing or
broken file completes nothing rather than printing an error into the prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported by each function: only completing a word needs it, not every start-up
    from click.shell_completion import CompletionItem



def _file_of(ctx: click.Context) -> str | None:
    """The FILE (or first of FILES) given so far.

    While an option waits for the value being completed, click has not yet
    bound the positional arguments: FILE is then the first of the unparsed ones.
    """
    file = ctx.params.get("file")
    if file is None:
        files = ctx.params.get("files") or ()
        file = files[0] if files else next((a for a in ctx.args if not a.startswith("-")), None)
    return file


def _compiled(ctx: click.Context):
    """The file's CompileResult, or None when there is no readable file yet."""
    from hciplan.compiler.compile import compile_checked
    from hciplan.compiler.pipeline import load_source

    file = _file_of(ctx)
    if not file:
        return None
    try:
        return compile_checked(load_source(file), need_plan=True)
    except Exception:  # noqa: BLE001 - completion runs inside the user's shell: never a traceback there
        return None


def node_names(ctx: click.Context) -> list[str]:
    result = _compiled(ctx)
    if result is None or result.check.model is None:
        return []
    return [node.name for node in result.check.model.cluster.nodes]


def complete_fail(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """`--fail`: the node (or `cluster`) first, then that node's steps, then the failure modes."""
    from click.shell_completion import CompletionItem

    from hciplan.simulator.failures import step_names

    parts = incomplete.split(":")
    if len(parts) == 1:
        names = node_names(ctx)
        if not names:
            return []
        return [CompletionItem(f"{name}:", help="a node" if name != "cluster" else "a cluster-wide step")
                for name in [*names, "cluster"] if name.lower().startswith(incomplete.lower())]
    node, step = parts[0], parts[1]
    if len(parts) == 2:
        result = _compiled(ctx)
        if result is None or result.plan is None:
            return []
        return [CompletionItem(f"{node}:{name}") for name in step_names(result.plan, node)
                if name.startswith(step.lower())]
    if len(parts) == 3:
        from hciplan.compiler.schema import FAILURE_MODES  # here, not at import: --help stays light

        return [CompletionItem(f"{node}:{step}:{mode}") for mode in FAILURE_MODES if mode.startswith(parts[2])]
    return []


def complete_node(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A node name of FILE (`progress --cau-node`)."""
    from click.shell_completion import CompletionItem

    return [CompletionItem(name) for name in node_names(ctx) if name.lower().startswith(incomplete.lower())]


def complete_scenario(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A scenario block of FILE (`--scenario`)."""
    from click.shell_completion import CompletionItem

    result = _compiled(ctx)
    if result is None or result.check.model is None:
        return []
    return [CompletionItem(s.name) for s in result.check.model.scenarios if s.name.startswith(incomplete)]


def complete_code(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """A diagnostic code for `explain`, with its title as the description zsh and fish show."""
    from click.shell_completion import CompletionItem

    wanted = incomplete.upper()
    import hciplan.compiler.codes  # noqa: F401 - registers every code in REGISTRY
    from hciplan.compiler.diagnostics import REGISTRY

    return [CompletionItem(code, help=entry.title) for code, entry in sorted(REGISTRY.items())
            if code.startswith(wanted)]
