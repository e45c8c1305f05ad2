"""``cityops medicare``: group discharge records from a CSV file (DRG), make a synthetic month,
import discharges into the database and group a stored month, run fund supervision (基金监管)
over the database."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.errors import CityOpsError

if TYPE_CHECKING:
    from cityops.scenarios.medicare.drg_schemas import BatchRead

medicare_app = typer.Typer(help="智慧医保: DRG/DIP grouping", no_args_is_help=True)
discharges_app = typer.Typer(
    help="discharge records (出院病例) in the database", no_args_is_help=True
)
medicare_app.add_typer(discharges_app, name="discharges")
IMPORT_ACTOR = "system:cli-discharge-import"

TablesOption = Annotated[
    Path | None,
    typer.Option(help="DRG tables directory (CSV layout of docs/medicare.md); default: synthetic"),
]
OUT_FIELDS = ("id", "hospital", "drg", "status", "mdc", "adrg", "cc_level", "weight", "reason")


def _cmi_table(summary: BatchRead, title: str) -> None:
    table = Table(title=f"{title} ({summary.tables}{', synthetic' if summary.synthetic else ''})")
    for col in ("hospital", "cases", "grouped", "QY", "0000", "Σ RW", "CMI", "paid ¥"):
        table.add_column(col, justify="left" if col == "hospital" else "right")
    for h in summary.hospitals:
        paid = "-" if h.paid_fen is None else f"{h.paid_fen / 100:,.2f}"
        table.add_row(h.hospital, str(h.cases), str(h.grouped), str(h.ambiguous),
                      str(h.ungroupable), f"{h.total_weight:.4f}", f"{h.cmi}", paid)  # fmt: skip
    console.print(table)


@medicare_app.command("group")
def group(
    file: Annotated[Path, typer.Argument(help="discharge records CSV (docs/medicare.md)")],
    tables: TablesOption = None,
    out: Annotated[
        Path | None, typer.Option(help="write each record's grouping and trace to this CSV")
    ] = None,
) -> None:
    """Group every record of FILE and print CMI by hospital; bad rows are listed, not fatal."""
    from cityops.scenarios.medicare import grouper, records, service

    settings = settings_for()
    if tables is not None:
        settings = settings.model_copy(update={"medicare_drg_tables": tables})
    if not file.is_file():
        fail(f"{file} is not a file")
    try:
        m = service.medicare(settings)
    except CityOpsError as exc:
        fail(exc.message)
    for issue in m.loaded.issues:
        console.print(f"[yellow]tables: {issue}[/yellow]")
    good, bad = records.read_csv(file)
    for b in bad:
        console.print(f"[yellow]{b.where}: refused ({b.code}): {b.reason}[/yellow]")
    gs = grouper.group_many(good, m.loaded.tables)
    summary = service.summarise(m, good, [], gs)
    if out is not None:
        with out.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow([*OUT_FIELDS, "trace"])
            for r, g in zip(good, gs, strict=True):
                trace = " | ".join(str(s) for s in g.trace)
                w.writerow([r.id, r.hospital, g.drg, g.status, g.mdc or "", g.adrg or "",
                            g.cc_level, g.weight_e4 / 10_000, g.reason or "", trace])  # fmt: skip
    _cmi_table(summary, "CMI by hospital")
    console.print(
        f"{summary.cases} records grouped ({summary.grouped} in a DRG, {summary.ambiguous} QY, "
        f"{summary.ungroupable} 0000), {len(bad)} refused; CMI {summary.cmi}"
    )


@medicare_app.command("generate")
def generate(
    out: Annotated[Path, typer.Argument(help="CSV file to write")],
    cases: Annotated[int, typer.Option(help="how many discharge records")] = 100_000,
    month: Annotated[str, typer.Option(help="YYYY-MM, used in the record ids")] = "2026-10",
    seed: int = 7,
    tables: TablesOption = None,
) -> None:
    """Write a month of SYNTHETIC discharge records for the synthetic hospitals."""
    from cityops.scenarios.medicare import drg_loader, records
    from cityops.sim.medicare_discharges import generate as gen

    loaded = drg_loader.load(tables or drg_loader.SHIPPED)
    with out.open("w", encoding="utf-8", newline="") as f:
        n = records.write_csv(gen(loaded.tables, cases=cases, seed=seed, month=month), f)
    console.print(f"wrote {n} discharge records to {out}")


@medicare_app.command("supervise")
def supervise(
    from_: Annotated[
        str | None, typer.Option("--from", help="first day YYYY-MM-DD; default: 1st of the month")
    ] = None,
    to: Annotated[str | None, typer.Option(help="last day YYYY-MM-DD; default: today")] = None,
    rules: Annotated[
        Path | None, typer.Option(help="rule base YAML; default: the shipped one")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """基金监管: run the rule base and the peer layer over the settlements of a period and store
    the hits as clues (once per rule, subject and month; re-runs add only what is new)."""
    from datetime import date

    from cityops.clock import SystemClock
    from cityops.scenarios.medicare import supervision_load, supervision_rules
    from cityops.store.engine import make_engine, make_session_factory, transaction

    settings = settings_for(database_url)
    now = SystemClock().now()
    try:
        last = date.fromisoformat(to) if to else now.astimezone(settings.tz).date()
        first = date.fromisoformat(from_) if from_ else last.replace(day=1)
        p = supervision_load.period(first, last, settings.tz)
    except ValueError as exc:
        fail(f"--from/--to: {exc}")
    except CityOpsError as exc:
        fail(exc.message)
    ruleset = supervision_rules.load_rules(
        rules or settings.medicare_supervision_rules or supervision_rules.SHIPPED
    )
    for err in ruleset.errors:
        console.print(f"[yellow]rules: {err}[/yellow]")
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            done = supervision_load.supervise_database(
                session=s, rules=ruleset, p=p, tz=settings.tz, at=now
            )
    finally:
        engine.dispose()
    console.print(f"基金监管 {p.first} … {p.last}: {done.lines} fee lines, {done.discharges} stays")
    table = Table(title="hits by rule")
    table.add_column("rule")
    table.add_column("hits", justify="right")
    for rule_id, n in sorted(done.summary.by_rule.items()):
        table.add_row(rule_id, str(n))
    console.print(table)
    console.print(
        f"{done.summary.hits} hits: {done.summary.created} new clues, "
        f"{done.summary.refreshed} refreshed"
    )


def _credit_rows(path: Path, period: str | None) -> tuple[list[tuple[int, Any]], list[str]]:
    """(CSV line, Credit) for each readable row, and a message for each unreadable one."""
    from cityops.scenarios.medicare.credit_models import CreditKind
    from cityops.scenarios.medicare.credits import Credit

    rows: list[tuple[int, Any]] = []
    bad: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for line, rec in enumerate(csv.DictReader(f), start=2):
            try:
                kind = CreditKind((rec.get("kind") or "contribution").strip())
                month = (rec.get("period") or period or "").strip()
                amount = int((rec.get("amount") or "").strip())
                rows.append((line, Credit((rec.get("psn_no") or "").strip(), month, amount, kind)))
            except ValueError as exc:
                bad.append(f"line {line}: {exc}")
    return rows, bad


@medicare_app.command("credit")
def credit(
    file: Annotated[Path, typer.Argument(help="CSV: psn_no, amount (fen)[, kind][, period]")],
    period: Annotated[
        str | None, typer.Option(help="YYYY-MM for rows without a period column")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """个人账户划入: credit employees' personal accounts from the contribution system's file
    (5,000 rows a transaction; rows credited before are skipped, so a rerun is safe)."""
    from cityops.clock import SystemClock
    from cityops.scenarios.medicare.credits import credit_accounts
    from cityops.store.engine import make_engine, make_session_factory, transaction

    if not file.exists():
        fail(f"{file}: no such file")
    rows, bad = _credit_rows(file, period)
    engine = make_engine(settings_for(database_url).database_url)
    credited = already = amount = 0
    try:
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            with transaction(make_session_factory(engine)) as s:
                done = credit_accounts(
                    session=s, items=[c for _, c in chunk], source=file.name,
                    actor="cli:medicare-credit", at=SystemClock().now(),
                )  # fmt: skip
            credited, already = credited + done.credited, already + done.already
            amount += done.amount
            bad += [f"line {chunk[e.index][0]}: {e.code}: {e.message}" for e in done.errors]
    finally:
        engine.dispose()
    console.print(f"个人账户划入 {file.name}: {credited} credited (¥{amount / 100:,.2f}), "
                  f"{already} already credited, {len(bad)} refused")  # fmt: skip
    for message in bad[:50]:
        console.print(f"[yellow]{message}[/yellow]")
    if bad:
        raise typer.Exit(1)


@discharges_app.command("import")
def import_discharges(
    file: Annotated[Path, typer.Argument(help="discharges CSV (layout in docs/medicare.md)")],
    database_url: DbOption = None,
) -> None:
    """Store the discharges of FILE: bad rows are listed with their line and reason, ones already
    stored (same id = mdtrt_id) skipped. Exit 1 if any row was refused."""
    from cityops.clock import SystemClock
    from cityops.scenarios.medicare import discharges
    from cityops.store.engine import make_engine, make_session_factory, transaction

    if not file.is_file():
        fail(f"{file} is not a file")
    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            done = discharges.import_csv(session=s, path=file, tz=settings.tz,
                                         at=SystemClock().now(), actor=IMPORT_ACTOR)  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")
    finally:
        engine.dispose()
    for i in done.refused:
        console.print(f"[yellow]{file.name}:{i.row}: refused ({i.code}): {i.reason}[/yellow]")
    console.print(
        f"{done.rows} rows: {done.imported} imported, {len(done.skipped)} already imported "
        f"(skipped), {len(done.refused)} refused"
    )
    if done.refused:
        raise typer.Exit(1)


@medicare_app.command("drg-month")
def drg_month(
    month: Annotated[str, typer.Argument(help="YYYY-MM (local time of discharge)")],
    database_url: DbOption = None,
) -> None:
    """Group a month of stored discharges, store each result on its row (a re-run overwrites
    with the same values) and print CMI by hospital."""
    from cityops.clock import SystemClock
    from cityops.scenarios.medicare import discharge_month
    from cityops.store.engine import make_engine, make_session_factory, transaction

    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            done = discharge_month.group_month(
                session=s, settings=settings, month=month, at=SystemClock().now()
            )
    except CityOpsError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    _cmi_table(done, f"{month}: CMI by hospital")
    console.print(
        f"{done.stored} discharges grouped and stored ({done.grouped} in a DRG, "
        f"{done.ambiguous} QY, {done.ungroupable} 0000); CMI {done.cmi}"
    )
