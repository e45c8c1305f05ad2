"""``cityops privacy``: personal data upkeep (docs/privacy.md): keys, rotation, retention."""

from __future__ import annotations

from typing import Annotated

import typer

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.errors import CityOpsError

privacy_app = typer.Typer(help="personal data: keys, rotation, retention", no_args_is_help=True)


@privacy_app.command("new-key")
def new_key() -> None:
    """Print a fresh data key (base64 of 32 random bytes) for CITYOPS_DATA_KEY(S)."""
    from cityops.store.crypto import new_key as make

    console.print(make(), soft_wrap=True, highlight=False)


@privacy_app.command("rotate-keys")
def rotate_keys(
    batch: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 1000,
    dry_run: Annotated[bool, typer.Option(help="only count what would be re-encrypted")] = False,
    database_url: DbOption = None,
) -> None:
    """Re-encrypt personal data under the newest key of CITYOPS_DATA_KEYS (and encrypt old
    plain rows). Safe to stop and run again; drop the old key once it reports 0."""
    from cityops.store import crypto
    from cityops.store.base import Base, import_all_models
    from cityops.store.engine import make_engine
    from cityops.store.rekey import rotate

    settings = settings_for(database_url)
    import_all_models()
    try:
        keys = crypto.ring_from_settings(settings)
        report = rotate(
            make_engine(settings.database_url),
            list(Base.metadata.tables.values()),
            keys,
            batch=batch,
            dry_run=dry_run,
        )
    except CityOpsError as exc:
        fail(exc.message)
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    tables = ", ".join(f"{t} {n}" for t, n in sorted(report.by_table.items())) or "none"
    console.print(
        f"{verb} {report.values_rewritten} values under key {keys.current} "
        f"({report.rows_read} rows read; {tables})"
    )


@privacy_app.command("purge")
def purge(
    dry_run: Annotated[bool, typer.Option(help="only count what would be erased")] = False,
    database_url: DbOption = None,
) -> None:
    """Erase reporters' personal data from cases ended longer ago than
    CITYOPS_PERSONAL_DATA_RETENTION_DAYS (one ledger entry per case)."""
    from cityops.cases.retention import run_once
    from cityops.runtime import build_context

    settings = settings_for(database_url)
    try:  # the schema as it is: `cityops db upgrade` or `serve` migrate it
        ctx = build_context(settings, migrate=False)
    except CityOpsError as exc:
        fail(exc.message)
    try:
        done = run_once(ctx, dry_run=dry_run)
    finally:
        ctx.bus.close()
    verb = "would erase" if dry_run else "erased"
    console.print(
        f"{verb} personal data of {done.cases} cases ({done.reports} reports); "
        f"{done.checked} cases ended before {done.cutoff:%Y-%m-%d %H:%M} UTC "
        f"(retention {settings.personal_data_retention_days} days)"
    )
