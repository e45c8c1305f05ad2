"""``cityops import``: jurisdictions from GeoJSON, 12345 hotline work orders from a sheet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.errors import CityOpsError

import_app = typer.Typer(help="import data", no_args_is_help=True)


@import_app.command("jurisdictions")
def import_jurisdictions(path: Path, database_url: DbOption = None) -> None:
    """Import jurisdictions from a GeoJSON FeatureCollection (code, name, level, parent_code)."""
    from cityops.geo import service as geo
    from cityops.store.engine import make_engine, make_session_factory, transaction
    from cityops.store.schema import upgrade

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
    engine = make_engine(settings_for(database_url).database_url)
    upgrade(engine)
    try:
        with transaction(make_session_factory(engine)) as session:
            n = geo.import_geojson(session=session, collection=data)
    except CityOpsError as exc:
        fail(exc.message)
    console.print(f"imported {n} jurisdictions from {path}")


@import_app.command("hotline")
def import_hotline(
    path: Path,
    mapping: Annotated[Path, typer.Option("--mapping", help="column mapping YAML")],
    errors: Annotated[
        Path | None, typer.Option("--errors", help="error rows CSV (default FILE.errors.csv)")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Import a 12345 hotline export (.xlsx/.csv) through intake; idempotent on 工单编号.

    Bad rows are listed (row, column, code, message) and written to the error CSV; the good rows
    are imported. Exit 1 if any row failed, 2 if nothing could be read (bad mapping or file).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from cityops.cases import hotline
    from cityops.cases.hotline_sheet import load_mapping, read_sheet
    from cityops.cases.runtime import get_rules
    from cityops.runtime import build_context

    try:
        spec = load_mapping(mapping)
        header, rows = read_sheet(path, spec.sheet)
    except CityOpsError as exc:
        fail(exc.message)
    ctx = build_context(settings_for(database_url), migrate=False)
    try:
        with ctx.sessions() as session:
            rules = get_rules(ctx, session)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("importing", total=len(rows))
            result = hotline.import_rows(
                ctx=ctx,
                rules=rules,
                mapping=spec,
                header=header,
                rows=rows,
                progress=lambda n: bar.advance(task, n),
            )
    except CityOpsError as exc:
        fail(exc.message)
    finally:
        ctx.bus.close()
    console.print(
        f"{result.rows} rows: {result.imported} imported ({result.linked} linked to an open "
        f"case), {result.already} imported before, {len(result.errors)} refused"
    )
    if not result.errors:
        return
    table = Table("row", "column", "code", "message")
    for e in result.errors:
        table.add_row(str(e.row), e.column or "", e.code, e.message)
    console.print(table)
    target = errors or path.with_name(path.stem + ".errors.csv")
    hotline.write_errors(target, result.errors)
    console.print(f"error rows written to {target}")
    raise typer.Exit(1)
