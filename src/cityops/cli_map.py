"""``cityops map`` (boundary changes on 一张图) and ``cityops ledger`` (一本账 checks)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.errors import CityOpsError

ledger_app = typer.Typer(help="the ledger (一本账)", no_args_is_help=True)
map_app = typer.Typer(help="the map (一张图): boundary changes", no_args_is_help=True)


@map_app.command("merge")
def map_merge(
    sources: Annotated[
        str, typer.Option(help="comma-separated district codes, e.g. 500105,500112")
    ],
    target: Annotated[str, typer.Option(help="the new district's 6-digit code, e.g. 500157")],
    name: Annotated[str, typer.Option(help="the new district's name, e.g. 两江新区")],
    effective: Annotated[str, typer.Option(help="YYYY-MM-DD the change takes effect")],
    database_url: DbOption = None,
) -> None:
    """Merge districts into a new one; open cases are re-homed, history kept, all on the ledger."""
    from datetime import UTC, datetime

    from cityops.geo import merge
    from cityops.store.engine import make_engine, make_session_factory, transaction

    try:
        when = date.fromisoformat(effective)
    except ValueError:
        fail(f"--effective must be YYYY-MM-DD, not {effective!r}")
    engine = make_engine(settings_for(database_url).database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            result = merge.merge_jurisdictions(
                session=session,
                sources=[c.strip() for c in sources.split(",") if c.strip()],
                target_code=target,
                target_name=name,
                effective=when,
                at=datetime.now(UTC),
                actor="cli:map-merge",
            )
    except CityOpsError as exc:
        fail(exc.message)
    console.print(
        f"merged into {result.target_code}: {len(result.code_map)} areas re-coded, "
        f"{len(result.rehomed_case_ids)} open cases re-homed, {result.retired} rows retired"
    )


@ledger_app.command("verify")
def ledger_verify(database_url: DbOption = None) -> None:
    """Walk the hash chain; exit 1 and name the first broken entry if it was tampered with."""
    from cityops.ledger import service as ledger
    from cityops.store.engine import make_engine, make_session_factory

    engine = make_engine(settings_for(database_url).database_url)
    with make_session_factory(engine)() as session:
        v = ledger.verify(session=session)
    if v.ok:
        console.print(
            f"[green]ledger intact[/green]: {v.checked} entries, head {v.head_hash[:16]}…"
        )
        return
    console.print(
        f"[red]ledger broken[/red] at entry {v.first_broken_seq}: {v.reason} "
        f"({v.checked} entries verified before it)"
    )
    raise typer.Exit(1)
