"""The ``cityops`` command: demo, serve, db, import, kpi, ledger, privacy, sim, medicare."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from cityops.cli_common import DbOption, console, fail, settings_for
from cityops.cli_import import import_app
from cityops.cli_map import ledger_app, map_app
from cityops.cli_medicare import medicare_app
from cityops.cli_privacy import privacy_app
from cityops.cli_sim import sim_app
from cityops.errors import CityOpsError

if TYPE_CHECKING:
    from cityops.api.context import AppContext

app = typer.Typer(
    help="cityops — 城市运行和治理智能中枢", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="database schema", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(ledger_app, name="ledger")
app.add_typer(sim_app, name="sim")
app.add_typer(map_app, name="map")
app.add_typer(medicare_app, name="medicare")
app.add_typer(privacy_app, name="privacy")


@db_app.command("upgrade")
def db_upgrade(database_url: DbOption = None) -> None:
    """Create or upgrade the schema (Alembic) at the configured database."""
    from cityops.store.engine import make_engine
    from cityops.store.schema import upgrade

    engine = make_engine(settings_for(database_url).database_url)
    upgrade(engine)
    console.print(f"schema is at head on {engine.url.render_as_string(hide_password=True)}")


@app.command("check-config")
def check_config(
    categories: Annotated[Path | None, typer.Option(help="category catalogue YAML")] = None,
    plans: Annotated[Path | None, typer.Option(help="dispatch plans (预案) YAML")] = None,
    river_duty: Annotated[Path | None, typer.Option(help="巡河 patrol duty rules YAML")] = None,
) -> None:
    """Validate an edited category catalogue, dispatch plans and patrol duty rules; exit 1 if
    any entry is refused."""
    from cityops.cases.categories import load_catalogue
    from cityops.cases.plans import load_plans
    from cityops.scenarios.river.duty import load_rules

    try:
        catalogue = load_catalogue(categories)
        dispatch_plans = load_plans(catalogue, plans)
    except CityOpsError as exc:
        fail(exc.message)
    duty = load_rules(river_duty)
    problems = [*catalogue.errors, *dispatch_plans.errors, *duty.errors]
    console.print(
        f"catalogue v{catalogue.version}: {len(catalogue.all())} categories; "
        f"plans: {len(dispatch_plans.plans)} active; river duty: {len(duty.rules)} levels"
    )
    for problem in problems:
        console.print(f"[yellow]refused:[/yellow] {problem}")
    if problems:
        raise typer.Exit(1)


@app.command("kpi")
def kpi(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: this month)")] = None,
    by: Annotated[str, typer.Option(help="district | street | department | worker")] = "district",
    jurisdiction: Annotated[
        str | None, typer.Option(help="limit to a district or street code")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """Print the KPI set (立案数, 结案率, 按期结案率, …) with composite score and A–E rating."""
    from cityops.cases import kpi_query
    from cityops.store.engine import make_engine, make_session_factory

    settings = settings_for(database_url)
    try:
        start, end = kpi_query.month_range(month, tz=settings.tz)
        by_key = kpi_query.GroupBy(by)
    except (ValueError, CityOpsError) as exc:
        fail(str(exc))
    engine = make_engine(settings.database_url)
    with make_session_factory(engine)() as session:
        rows = kpi_query.kpi_rows(
            session=session, start=start, end=end, by=by_key, jurisdiction=jurisdiction
        )
    table = Table(title=f"KPIs {start.astimezone(settings.tz):%Y-%m} by {by}")
    for col in [
        "group",
        "名称",
        "立案数",
        "结案率%",
        "按期结案率%",
        "按期处置率%",
        "返工率%",
        "超期数",
        "监督举报率%",
        "平均处置h",
        "满意度",
        "综合分",
        "等级",
    ]:
        table.add_column(col, justify="right" if col not in ("group", "名称") else "left")
    for r in rows:
        k = r.kpis
        table.add_row(
            r.key,
            r.name,
            str(k.filed),
            _pct(k.close_rate),
            _pct(k.on_time_close_rate),
            _pct(k.on_time_handle_rate),
            _pct(k.rework_rate),
            str(k.overdue),
            _pct(k.public_report_rate),
            _num(k.avg_handling_hours),
            _num(k.satisfaction),
            _num(k.score),
            k.rating,
        )
    console.print(table)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def _num(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    scheduler: Annotated[
        bool, typer.Option(help="run the escalation scheduler and the rules loop here too")
    ] = True,
    database_url: DbOption = None,
) -> None:
    """Run the API server (and, by default, the escalation scheduler) on the configured database."""
    import uvicorn

    from cityops.api.app import create_app
    from cityops.automation import start_automation
    from cityops.cases.retention import PersonalDataPurge
    from cityops.cases.runtime import start_warm_up
    from cityops.cases.scheduler import EscalationScheduler
    from cityops.cases.webhook import start_webhooks, stop_webhooks
    from cityops.runtime import build_context
    from cityops.scenarios.medicare.price_schedule import DailyPriceCheck
    from cityops.scenarios.river.duty_service import DutyReminders
    from cityops.sensing.mqtt_runtime import start_mqtt

    try:  # a wrong or missing personal-data key stops here, with its message
        ctx = build_context(settings_for(database_url))
    except CityOpsError as exc:
        fail(exc.message)
    start_warm_up(ctx)  # the classifier and gazetteer, before the first report needs them
    mqtt = start_mqtt(ctx)  # the MQTT door, when CITYOPS_MQTT_URL is set
    start_webhooks(ctx)  # status updates out, when CITYOPS_WEBHOOK_URLS is set
    sched = EscalationScheduler(ctx)
    duty = DutyReminders(ctx)  # 巡河 overdue reminders
    purge = PersonalDataPurge(ctx)  # personal data past its retention
    prices = DailyPriceCheck(ctx)  # 医药价格智治: the daily price check
    automation = start_automation(ctx) if scheduler else None  # rules on the sensing network
    if scheduler:
        sched.start()
        duty.start()
        purge.start()
        prices.start()
    try:
        uvicorn.run(create_app(ctx), host=host, port=port, log_level="info")
    finally:
        if scheduler:
            sched.stop()
            duty.stop()
            purge.stop()
            prices.stop()
        mqtt.stop()
        stop_webhooks(ctx)
        if automation is not None:
            automation.stop()
        ctx.bus.close()


@app.command("worker")
def worker(
    interval: Annotated[float, typer.Option(help="seconds between escalation passes")] = 30.0,
    once: Annotated[bool, typer.Option(help="one escalation pass, then exit")] = False,
    index: Annotated[
        int | None, typer.Option(help="this worker's number, 0..count-1 (CITYOPS_WORKER_INDEX)")
    ] = None,
    count: Annotated[
        int | None,
        typer.Option(help="how many workers share the partitions (CITYOPS_WORKER_COUNT)"),
    ] = None,
    scheduler: Annotated[bool, typer.Option(help="run the escalation scheduler here")] = True,
    database_url: DbOption = None,
) -> None:
    """Background work without the API: the escalation scheduler (督办) and, with a NATS bus,
    the observation consumer. SIGTERM or Ctrl-C finishes the current batch, then exits."""
    from cityops.cases.retention import PersonalDataPurge
    from cityops.cases.scheduler import EscalationScheduler, run_once
    from cityops.runtime import build_context
    from cityops.scenarios.medicare.price_schedule import DailyPriceCheck
    from cityops.scenarios.river.duty_service import DutyReminders

    settings = settings_for(database_url)
    try:
        ctx = build_context(settings)
    except CityOpsError as exc:
        fail(exc.message)
    if once:
        console.print(f"escalation pass: {len(run_once(ctx))} cases acted on")
        ctx.bus.close()
        return
    sched = EscalationScheduler(ctx, interval=interval)
    duty = DutyReminders(ctx)  # 巡河 overdue reminders
    purge = PersonalDataPurge(ctx)  # personal data past its retention
    prices = DailyPriceCheck(ctx)  # 医药价格智治: the daily price check
    if scheduler:
        sched.start()
        duty.start()
        purge.start()
        prices.start()
        console.print(f"escalation pass every {interval:g}s")
    try:
        if settings.bus_url.startswith(("nats://", "tls://")):
            _consume(ctx, index=index, count=count)
        else:
            console.print("worker running (memory bus: no observation stream); Ctrl-C stops")
            _wait_for_signal()
    finally:
        if scheduler:
            sched.stop()
            duty.stop()
            purge.stop()
            prices.stop()
        ctx.bus.close()
    console.print("worker stopped")


def _wait_for_signal() -> None:
    import signal
    import threading

    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()


def _consume(ctx: AppContext, *, index: int | None, count: int | None) -> None:
    import asyncio
    import signal
    import time

    from cityops.bus.consumer import ObservationWorker, WorkerStats, load_handler

    spec = ctx.settings.worker_handler
    if not spec:
        fail("no observation handler: set CITYOPS_WORKER_HANDLER=module:factory")
        return
    try:
        job = ObservationWorker(ctx.settings, load_handler(spec, ctx), index=index, count=count)
    except (CityOpsError, ImportError, AttributeError) as exc:
        fail(str(exc))
        return
    last = [0.0]

    def progress(stats: WorkerStats) -> None:
        if time.monotonic() - last[0] >= 5.0:
            last[0] = time.monotonic()
            console.print(
                f"handled {stats.readings:,} readings in {stats.batches:,} batches "
                f"({stats.rate:,.0f}/s), {stats.failures} failed and retried"
            )

    job.on_batch = progress

    async def main() -> WorkerStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        task = asyncio.create_task(job.run(stop, ready))
        await asyncio.wait([task, asyncio.create_task(ready.wait())], return_when="FIRST_COMPLETED")
        if ready.is_set():
            console.print(
                f"worker consuming partitions {job.stats.partitions} of "
                f"{ctx.settings.bus_partitions} from {ctx.settings.bus_stream} (SIGTERM stops)",
                soft_wrap=True,
            )
        return await task

    try:
        stats = asyncio.run(main())
    except CityOpsError as exc:
        fail(exc.message)
        return
    console.print(
        f"finished: {stats.readings:,} readings in {stats.batches:,} batches, "
        f"{stats.failures} failed and retried, {stats.rejected} rejected"
    )


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="HTTP port (0 picks a free one)")] = 8000,
    host: str = "127.0.0.1",
    headless: Annotated[bool, typer.Option(help="no live panel; print progress lines")] = False,
    duration: Annotated[float | None, typer.Option(help="seconds to run, then exit 0")] = None,
    rate: Annotated[float, typer.Option(help="simulated reports per second")] = 5.0,
    devices: Annotated[
        int, typer.Option(help="simulated sensing devices with the rules loop (0: none)")
    ] = 300,
    database_url: DbOption = None,
) -> None:
    """Fill the database with synthetic Chongqing if empty, serve the API and simulate the city."""
    from cityops.demo import run_demo

    settings = settings_for(database_url)
    if database_url is None and "database_url" not in settings.model_fields_set:
        settings = settings.model_copy(update={"database_url": "sqlite:///var/demo.db"})
    run_demo(
        settings=settings,
        host=host,
        port=port,
        headless=headless,
        duration=duration,
        rate=rate,
        console=console,
        devices=devices,
    )


if __name__ == "__main__":
    app()
