"""What the ``cityops`` sub-commands share: the console, the error exit, the settings override."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console

from cityops.settings import Settings, get_settings

console = Console()
if not console.is_terminal:  # piped or captured: do not cut tables at 80 columns
    console = Console(width=200)

DbOption = Annotated[
    str | None, typer.Option("--database-url", help="overrides CITYOPS_DATABASE_URL")
]


def fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def settings_for(database_url: str | None = None) -> Settings:
    """The settings, with ``--database-url`` taking the place of CITYOPS_DATABASE_URL."""
    s = get_settings()
    return (
        s.model_copy(update={"database_url": Settings(database_url=database_url).database_url})
        if database_url
        else s
    )
