"""``cityops demo``: synthetic Chongqing, the API, a report simulator and a live panel."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections import Counter, deque
from datetime import datetime
from zoneinfo import ZoneInfo

import uvicorn
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from cityops.api.app import create_app
from cityops.api.context import AppContext, unit_of_work
from cityops.bus.memory import Event
from cityops.cases.escalation import run_escalations
from cityops.cases.lifecycle import ACTION_NAMES_ZH
from cityops.cases.retention import PersonalDataPurge
from cityops.cases.runtime import get_rules, start_warm_up
from cityops.demo_medicare import Couriers, seed_medicare
from cityops.demo_sensing import start_sensing
from cityops.runtime import build_context
from cityops.scenarios.medicare.price_schedule import DailyPriceCheck
from cityops.scenarios.river.duty_service import DutyReminders
from cityops.sensing.mqtt_runtime import start_mqtt
from cityops.settings import Settings
from cityops.sim.city import city_is_empty, seed_city
from cityops.sim.reports import ReportSimulator

ACCOUNTS = ["admin", "dispatcher", "worker", "inspector", "resident", "analyst"]


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


EVENT_NAMES = {a.value: name for a, name in ACTION_NAMES_ZH.items()} | {
    "report": "上报",
    "link_duplicate": "重复上报",
    "warn_near_overdue": "临期预警",
    "simulator_error": "模拟器错误",
    "alarm.raised": "告警",
    "alarm.reactivated": "告警再起",
    "alarm.escalated": "告警升级",
    "alarm.renotified": "告警重发",
    "alarm.acknowledged": "告警确认",
    "alarm.cleared": "告警解除",
}


class Tally:
    """What the panel shows: events by kind and the latest few, in the city's local time."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.counts: Counter[str] = Counter()
        self.recent: deque[str] = deque(maxlen=8)
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        kind = event.subject.removeprefix("cases.").replace("alarms.", "alarm.")
        label = f"{EVENT_NAMES.get(kind, '')} {kind}".strip()
        d = event.data
        try:
            when = datetime.fromisoformat(str(d.get("at"))).astimezone(self.tz).strftime("%H:%M:%S")
        except ValueError:
            when = "--:--:--"
        with self.lock:
            self.counts[label] += 1
            self.recent.appendleft(
                f"{when} {label:<22} #{d.get('case_id') or d.get('alarm_id')} "
                f"{d.get('title') or d.get('plan', '')} {d.get('street_code', '')}"
            )


def _panel(tally: Tally, url: str, started: float) -> Group:
    table = Table(title="案件流转 case flow", expand=True)
    table.add_column("event")
    table.add_column("count", justify="right")
    with tally.lock:
        for kind, n in sorted(tally.counts.items()):
            table.add_row(kind, str(n))
        recent = "\n".join(tally.recent)
    return Group(
        Panel(
            f"web {url}/  ·  API {url}/api/v1  ·  docs {url}/docs  ·  "
            f"up {time.monotonic() - started:.0f}s",
            title="cityops demo",
        ),
        table,
        Panel(recent or "waiting for reports…", title="latest"),
    )


def run_demo(
    *,
    settings: Settings,
    host: str,
    port: int,
    headless: bool,
    duration: float | None,
    rate: float,
    console: Console,
    devices: int = 0,
) -> None:
    password = settings.demo_password or secrets.token_urlsafe(9)
    settings = settings.model_copy(update={"demo_password": password})
    ctx = build_context(settings)
    if city_is_empty(ctx):
        with console.status("building synthetic Chongqing (一张图 · 一组库)…"):
            summary = seed_city(ctx=ctx, password=password, console=console)
        console.print(f"seeded: {summary}")
    else:
        seed_city(ctx=ctx, password=password, console=console, users_only=True)
    with console.status("loading the 渝药易购 market…"):
        medicare = seed_medicare(ctx=ctx, password=password, at=ctx.clock.now())
    if medicare:
        console.print(f"seeded: {medicare}")
    start_warm_up(ctx)  # the first resident report should not wait for the model to train
    port = port or _free_port(host)
    url = f"http://{host}:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host=host, port=port, log_level="warning")
    )
    api = threading.Thread(target=server.run, daemon=True, name="api")
    api.start()
    while not server.started:  # print the URL only once it answers
        if not api.is_alive():
            raise SystemExit(f"the API could not start on {url}")
        time.sleep(0.05)
    console.print(f"cityops demo at [bold]{url}[/bold]  (API docs {url}/docs)")
    console.print(
        f"open [bold]{url}/[/bold] in a browser: dispatcher → 城运驾驶舱 {url}/cockpit, "
        f"社区驾驶舱 {url}/community, resident (phone) → {url}/resident, "
        f"worker / inspector (phone) → {url}/worker, 买药 (resident) → {url}/medicare, "
        f"医保局 (admin) → {url}/medicare/prices"
    )
    console.print("accounts: " + ", ".join(ACCOUNTS) + f"  password: [bold]{password}[/bold]")
    tally = Tally(settings.tz)
    ctx.bus.subscribe("cases.*", tally)
    ctx.bus.subscribe("alarms.*", tally)
    stop = threading.Event()
    worker = threading.Thread(target=_simulate, args=(ctx, rate, stop), daemon=True, name="sim")
    worker.start()
    duty = DutyReminders(ctx)  # 巡河 overdue reminders, as `cityops serve` runs them
    duty.start()
    purge = PersonalDataPurge(ctx)  # personal data past its retention, likewise
    purge.start()
    prices = DailyPriceCheck(ctx)  # 医药价格智治: the daily price check, likewise
    prices.start()
    couriers = Couriers(ctx)  # 渝药易购 orders go out and arrive
    couriers.start()
    sensing = start_sensing(ctx, devices, console) if devices > 0 else None
    mqtt = start_mqtt(ctx)  # the MQTT door, when CITYOPS_MQTT_URL is set
    started = time.monotonic()
    try:
        if headless:
            _headless(tally, started, duration, stop, console)
        else:
            with Live(_panel(tally, url, started), console=console, refresh_per_second=2) as live:
                while not stop.is_set() and (
                    duration is None or time.monotonic() - started < duration
                ):
                    time.sleep(0.5)
                    live.update(_panel(tally, url, started))
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.should_exit = True
        worker.join(timeout=10)
        duty.stop()
        purge.stop()
        prices.stop()
        couriers.stop()
        if sensing is not None:
            sensing.stop()
        mqtt.stop()
    with tally.lock:
        console.print(
            f"demo finished: {sum(tally.counts.values())} case events "
            f"({dict(sorted(tally.counts.items()))})"
        )


def _headless(
    tally: Tally, started: float, duration: float | None, stop: threading.Event, console: Console
) -> None:
    last = 0.0
    while not stop.is_set() and (duration is None or time.monotonic() - started < duration):
        time.sleep(0.2)
        if time.monotonic() - last >= 5:
            last = time.monotonic()
            with tally.lock:
                console.print(
                    f"[{time.monotonic() - started:5.0f}s] "
                    + ", ".join(f"{k}={v}" for k, v in sorted(tally.counts.items()))
                )


def _simulate(ctx: AppContext, rate: float, stop: threading.Event) -> None:
    """Feed reports, move cases along, run escalations; every step commits and publishes."""
    sim = ReportSimulator(seed=11)
    tick = 1.0
    while not stop.is_set():
        began = time.monotonic()
        try:
            with unit_of_work(ctx) as session:
                rules = get_rules(ctx, session)
                now = ctx.clock.now()
                sim.step(session=session, rules=rules, now=now, reports=max(1, round(rate * tick)))
                run_escalations(session=session, rules=rules, now=now)
        except Exception as exc:  # the demo keeps running; the panel shows the error
            ctx.bus.publish(Event("cases.simulator_error", {"title": str(exc)[:80]}))
        stop.wait(max(0.0, tick - (time.monotonic() - began)))
