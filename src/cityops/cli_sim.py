"""``cityops sim``: bulk history for benchmarks, simulated sensing devices, the 渝药易购 market,
a month of discharges (出院病例)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.errors import CityOpsError

sim_app = typer.Typer(help="synthetic Chongqing", no_args_is_help=True)


@sim_app.command("load-history")
def load_history(
    cases: Annotated[int, typer.Option(help="how many historical cases")] = 100_000,
    years: Annotated[int, typer.Option(help="spread over this many years before --until")] = 4,
    until: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
    seed: int = 7,
    database_url: DbOption = None,
) -> None:
    """Bulk-load historical cases (a realistic mix) for benchmarks, with a progress bar."""
    from cityops.sim.history import load_history as load

    settings = settings_for(database_url)
    end = date.fromisoformat(until) if until else date.today()
    n = load(settings=settings, cases=cases, years=years, until=end, seed=seed, console=console)
    console.print(f"loaded {n} historical cases")


@sim_app.command("devices")
def sim_devices(
    count: Annotated[int, typer.Option(help="about how many devices (plus a fan per tank)")] = 2000,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="publish to this broker (mqtt://host:port)")
    ] = None,
    duration: Annotated[float | None, typer.Option(help="seconds to run, then exit")] = None,
    backfill_hours: Annotated[
        float, typer.Option(help="start this many hours in the past (played at --speed)")
    ] = 0.0,
    district: Annotated[
        str | None, typer.Option(help="only 部件 in this district (code prefix, e.g. 500107)")
    ] = None,
    seed: int = 7,
    database_url: DbOption = None,
) -> None:
    """Provision simulated devices on the city's 部件 (idempotent) and play their readings."""
    import time
    from datetime import timedelta

    from cityops.runtime import build_context
    from cityops.sim.city import city_is_empty
    from cityops.sim.device_run import start_device_simulation

    settings = settings_for(database_url)
    ctx = build_context(settings)
    if city_is_empty(ctx):
        fail("the database has no city; run `cityops demo` once to seed synthetic Chongqing")
    try:
        with console.status(f"provisioning {count} devices…"):
            run = start_device_simulation(
                ctx,
                count=count,
                speed=speed,
                seed=seed,
                mqtt_url=mqtt,
                backfill=timedelta(hours=backfill_hours),
                district=district,
            )
    except CityOpsError as exc:
        fail(exc.message)
    devices = len(run.runner.sim.devices)
    console.print(f"{devices} devices, sending to {mqtt or 'the database (in process)'}")
    started = time.monotonic()
    try:
        while duration is None or time.monotonic() - started < duration:
            time.sleep(min(5.0, duration or 5.0))
            stats = run.runner.stats
            incidents = sum(1 for e in run.runner.sim.events if e.detail == "start")
            console.print(
                f"[{time.monotonic() - started:5.0f}s] sim time "
                f"{run.runner.sim.current_time():%Y-%m-%d %H:%M} UTC, {stats.readings} readings, "
                f"{incidents} incidents, {stats.commands} commands, {len(stats.errors)} errors"
            )
    except KeyboardInterrupt:
        pass
    finally:
        run.stop()


@sim_app.command("medicare")
def sim_medicare(
    size: Annotated[
        str, typer.Option(help="demo (800 × 1,000) or bench (10,000 × 5,000)")
    ] = "demo",
    persons: Annotated[int, typer.Option(help="insured persons, in families")] = 2000,
    seed: int = 7,
    database_url: DbOption = None,
) -> None:
    """Fill the 渝药易购 market: pharmacies across Chongqing, catalogue, prices, stock, people."""
    from sqlalchemy import func, select

    from cityops.scenarios.medicare.models import Fixmedins
    from cityops.sim import medicare_load, medicare_market
    from cityops.store.engine import make_engine, make_session_factory, transaction

    sizes = {"demo": medicare_market.DEMO, "bench": medicare_market.BENCH}
    if size not in sizes:
        fail(f"--size is demo or bench, not {size!r}")
    engine = make_engine(settings_for(database_url).database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            if s.scalar(select(func.count()).select_from(Fixmedins)):
                fail("the medicare tables already hold a market; nothing loaded")
            with console.status(f"generating and loading the {size} market…"):
                summary = medicare_load.seed_market(
                    session=s, size=sizes[size], persons=persons, seed=seed
                )
    finally:
        engine.dispose()
    console.print(
        f"{summary.pharmacies} pharmacies, {summary.hospitals} hospitals, {summary.products} "
        f"products, {summary.stock_rows} stock rows, {summary.persons} persons "
        f"({summary.accounts} accounts, {summary.bindings} 家庭共济 bindings)"
    )


@sim_app.command("discharges")
def sim_discharges(
    month: Annotated[str, typer.Option(help="YYYY-MM of discharge")],
    cases: Annotated[int, typer.Option(help="how many discharges")] = 2000,
    group: Annotated[bool, typer.Option(help="group the month and store the results")] = True,
    seed: int = 7,
    database_url: DbOption = None,
) -> None:
    """Store a month of SYNTHETIC discharges at the registered hospitals (a few planted
    分解住院 among them); a second run stores nothing new."""
    from cityops.clock import SystemClock
    from cityops.scenarios.medicare import discharge_month, service
    from cityops.sim.medicare_discharges import store_month
    from cityops.store.engine import make_engine, make_session_factory, transaction

    settings = settings_for(database_url)
    now = SystemClock().now()
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as s:
            discharge_month.month_period(month, settings.tz)  # refuse a bad month first
            tables = service.medicare(settings).loaded.tables
            done = store_month(
                session=s, tables=tables, month=month, cases=cases, tz=settings.tz, at=now,
                seed=seed,
            )  # fmt: skip
            cmi = None
            if group:
                cmi = discharge_month.group_month(
                    session=s, settings=settings, month=month, at=now
                ).cmi
    except CityOpsError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    console.print(
        f"{done.imported} discharges of {month} stored ({len(done.skipped)} already there)"
        + (f"; CMI {cmi}" if cmi is not None else "")
    )
