"""Typed settings from ``CITYOPS_*`` environment variables.

One object, validated once; nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings; defaults run a district on one laptop."""

    model_config = SettingsConfigDict(env_prefix="CITYOPS_", extra="ignore")

    database_url: str = "sqlite:///var/cityops.db"
    bus_url: str = "memory://"
    # With bus_url=nats://…: subjects start with bus_prefix; observation batches go to the
    # JetStream work stream bus_stream on bus_prefix.obs.<datastream_id % bus_partitions>.
    bus_prefix: str = "cityops"
    bus_stream: str = "CITYOPS_OBS"
    bus_partitions: int = Field(default=16, ge=1, le=1024)
    # A full stream refuses new batches (HTTP 503) instead of dropping old ones.
    bus_max_msgs: int = Field(default=1_000_000, ge=1)
    bus_max_bytes: int = Field(default=1 << 30, ge=1024)
    bus_publish_timeout: float = Field(default=5.0, gt=0)
    # Readings per published message (a NATS message is at most 1 MB by default).
    bus_chunk: int = Field(default=1000, ge=1)
    # A batch not acknowledged within this many seconds goes to the next worker (heartbeats
    # keep a long batch alive).
    bus_ack_wait: float = Field(default=30.0, gt=0)
    # `cityops worker`: worker i of n takes the partitions p with p % n == i.
    worker_index: int = Field(default=0, ge=0)
    worker_count: int = Field(default=1, ge=1)
    # "module:factory"; factory(ctx) returns the handler given each batch of readings.
    worker_handler: str | None = "cityops.sensing.scaleout:handler"
    # At most this many readings per handler call (one transaction).
    worker_max_readings: int = Field(default=20_000, ge=1)
    mqtt_url: str | None = None
    # The MQTT door (docs/api.md, "MQTT"): a persistent session under this client id; with a
    # share group, several consumers split the topics ($share/<group>/...).
    mqtt_client_id: str = "cityops-intake"
    mqtt_share_group: str | None = None
    mqtt_max_payload_bytes: int = 1_048_576
    mqtt_max_bulk_rows: int = 10_000
    mqtt_batch_size: int = 5000
    # Payload bytes received and not yet stored before the consumer stops reading the socket.
    mqtt_max_pending_bytes: int = Field(default=64_000_000, ge=1_000_000)
    # On start the door publishes again the commands of the last this-many minutes that no device
    # acknowledged (a restart must not lose a fan command the broker never got); 0: none.
    mqtt_command_resend_minutes: float = Field(default=10.0, ge=0)
    secret_key: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    demo_password: str | None = None
    time_zone: str = "Asia/Shanghai"
    token_minutes: int = 12 * 60
    open311_api_keys: str = ""
    # 重复案件: same category within this radius (metres) and window (hours) is one case.
    duplicate_radius_m: float = 50.0
    duplicate_window_hours: float = 24.0
    # 群众重开: the reporter may reopen a case closed as fixed within this many days of closing.
    reopen_days: float = Field(default=7.0, gt=0)
    max_text_length: int = 4000
    # 智能分类 (cases/classify.py): a report without a category is filed under the model's top
    # suggestion when its confidence is at least this; below it the case waits in the 受理员
    # queue. The default is read off the held-out set (docs/cases.md): about 97% of the reports
    # it auto-files are right. The fitted model is cached in classify_model_dir; corpus_dir
    # replaces the shipped corpus (data/corpus) when set.
    classify_min_confidence: float = Field(default=0.65, ge=0, le=1)
    classify_model_dir: Path = Path("var/models")
    corpus_dir: Path | None = None
    plans_path: Path | None = None
    categories_path: Path | None = None
    # A year's holidays and make-up workdays entered by an admin before chinese-calendar has them.
    holidays_path: Path | None = None
    # 预案 (rules plans): a YAML file or a folder of them; unset = the plans shipped with cityops.
    rules_plans_path: Path | None = None
    # Due timers fired per transaction when the engine ticks.
    rules_timer_batch: int = Field(default=1000, ge=1)
    # Sensing intake: how far from now a phenomenon time may be, and the HTTP batch limits.
    sensing_max_future_seconds: float = 86400.0
    sensing_max_past_days: float = 7.0
    sensing_max_batch: int = 10_000
    sensing_max_body_bytes: int = 4_000_000
    # Retention (days) of raw observations, 1-minute and 1-hour aggregates, and message ids.
    sensing_raw_days: int = 30
    sensing_agg_1m_days: int = 90
    sensing_agg_1h_days: int = 1825
    sensing_message_id_days: int = 8
    # Raw rows the background rollup folds per transaction: small enough that a door's rules
    # reaction (a fan command) never waits long for SQLite's one writer.
    sensing_rollup_rows: int = Field(default=5_000, ge=100)
    # SQLite: readings land in ten time-first tables (by block of datastream ids) and move
    # into the datastream-keyed one a table at a time (sensing.recent): the door moves one
    # every tenth of this many readings; the upkeep moves them all once readings have waited
    # this many seconds since the last move.
    sensing_recent_rows: int = Field(default=500_000, ge=1)
    sensing_recent_seconds: float = Field(default=60.0, gt=0)
    # SensorThings door: page size when $top is absent, and the largest $top served.
    sta_default_top: int = 100
    sta_max_top: int = 1000
    # The built browser app (web/dist) served at "/"; unset = the checkout's web/dist.
    web_dist: Path | None = None
    # Case photos (photos/): content-addressed files under photo_dir; larger uploads get 413.
    photo_dir: Path = Path("var/photos")
    photo_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1)
    # 巡河 patrol tracks (scenarios/river/patrol_track.py). All local defaults, not from the
    # reference: a fix implying more than max_speed (15 m/s, above walking and patrol-boat
    # speeds) from the track, beyond jitter metres of GPS noise, is a teleport; a fix reporting
    # accuracy worse than max_accuracy metres is inaccurate; confirm_points plausible fixes in a
    # row away from the track are a relocation (a new stretch), not a spike; a section counts as
    # covered within buffer metres of the track; a fix stamped more than clock_skew seconds
    # in the future is refused.
    river_patrol_max_speed_mps: float = Field(default=15.0, gt=0)
    river_patrol_max_accuracy_m: float = Field(default=50.0, gt=0)
    river_patrol_jitter_m: float = Field(default=10.0, ge=0)
    river_patrol_confirm_points: int = Field(default=3, ge=1)
    river_patrol_buffer_m: float = Field(default=100.0, gt=0)
    river_patrol_clock_skew_s: float = Field(default=300.0, ge=0)
    # 巡河 duty rules (a YAML file; unset = scenarios/river/data/patrol_duty.yaml) and how often
    # the overdue reminders run (local default: hourly; duties are counted in days).
    river_duty_rules_path: Path | None = None
    river_duty_check_minutes: float = Field(default=60.0, gt=0)
    # 智慧河长 other-source detections (drone, boat, satellite, AI video): the nearest section
    # within this many metres takes one; at or above the confidence it becomes an event (a case)
    # at once, below it waits for a dispatcher. Local defaults, not from a standard.
    river_detection_max_distance_m: float = Field(default=500.0, gt=0, le=50_000)
    river_detection_min_confidence: float = Field(default=0.8, ge=0, le=1)
    # 渝药易购 (docs/medicare.md): nearby offers, delivery estimate, payment rules.
    medicare_search_radius_m: float = Field(default=10_000.0, gt=0, le=200_000)
    medicare_offers_max: int = Field(default=50, ge=1, le=500)
    medicare_delivery_m_per_min: float = Field(default=250.0, gt=0)  # ≈15 km/h rider [unconfirmed]
    medicare_prep_minutes: float = Field(default=10.0, ge=0)  # [unconfirmed]
    medicare_index_ttl_s: float = Field(default=60.0, ge=0)
    medicare_mulaid_relations: str = "spouse,parent,child,sibling,grandparent,grandchild"
    medicare_mulaid_single_provider: bool = True  # one provider per beneficiary [verify]
    medicare_rx_needs_prescription: bool = True
    medicare_max_order_lines: int = Field(default=20, ge=1, le=200)
    medicare_max_line_count: int = Field(default=100, ge=1)

    # 智慧医保 DRG/DIP (scenarios/medicare): grouping tables (a directory in the CSV layout of
    # docs/medicare.md), payment parameters (YAML) and the DIP catalogue (CSV); unset = the
    # shipped SYNTHETIC ones. A batch over medicare_batch_max records gets 413 (local default).
    medicare_drg_tables: Path | None = None
    medicare_payment_rules: Path | None = None
    medicare_dip_catalogue: Path | None = None
    medicare_batch_max: int = Field(default=50_000, ge=1)
    # 医药价格智治 (docs/medicare.md "Price governance"): a unit price more than these ratios above
    # the 挂网价 / 集采中选价 / the district's median of the same product is flagged; all
    # [unconfirmed] (reference §5.2): local defaults. The median counts only with min_peers rows;
    # a row flagged in price_persist_days consecutive daily checks opens a supervision case.
    medicare_price_tol_listed: float = Field(default=0.15, ge=0)
    medicare_price_tol_vbp: float = Field(default=0.15, ge=0)
    medicare_price_tol_median: float = Field(default=0.30, ge=0)
    medicare_price_min_peers: int = Field(default=3, ge=2)
    medicare_price_persist_days: int = Field(default=3, ge=1)
    medicare_price_case_category: str = "10911"
    # The daily check runs by itself once per local day at or after this local time (HH:MM) in
    # `serve`, `worker` and the demo; local default (nightly, before the offices open).
    medicare_price_check_at: str = Field(default="02:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    # 基金监管在线 rule base (YAML, docs/medicare.md "Fund supervision"); unset = the shipped one.
    medicare_supervision_rules: Path | None = None

    # ---- Outbound webhooks (cases/webhook.py): case status updates POSTed to these URLs
    # (comma-separated), signed with HMAC-SHA256 of the body under webhook_secret. Local
    # defaults, not from the reference: tries per delivery, the first retry's wait in seconds
    # (doubling each time), the HTTP timeout, and how many events wait for slow endpoints
    # before new ones are dropped (with a log line).
    webhook_urls: str = ""
    webhook_secret: str = ""
    webhook_attempts: int = Field(default=4, ge=1, le=20)
    webhook_backoff_s: float = Field(default=1.0, gt=0, le=600)
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=120)
    webhook_queue_size: int = Field(default=10_000, ge=1)

    # ---- Personal data (docs/privacy.md). Keys: data_keys "kid:base64,..." newest first, or
    # one data_key (base64 of 32 bytes), else a key generated once into data_key_file.
    data_key: str | None = None
    data_keys: str = ""
    data_key_file: Path = Path("var/data.key")
    # Names, phones and ID numbers are erased this many days after a case ends (closed,
    # evaluated, void). Local default (a year): the reference names no figure.
    personal_data_retention_days: int = Field(default=365, ge=1)
    personal_data_purge_minutes: float = Field(default=60.0, gt=0)
    # ---- Abuse limits on resident intake (docs/privacy.md). Local defaults, not from the
    # reference: reports per hour per resident account and per client IP, with a burst; photo
    # uploads per hour per IP; the largest photo in pixels (decompression bombs).
    rate_reports_per_hour: float = Field(default=10.0, gt=0)
    rate_reports_burst: int = Field(default=5, ge=1)
    rate_ip_reports_per_hour: float = Field(default=30.0, gt=0)
    rate_ip_reports_burst: int = Field(default=10, ge=1)
    rate_photos_per_hour: float = Field(default=60.0, gt=0)
    rate_photos_burst: int = Field(default=20, ge=1)
    # Client IPs of proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs).
    trusted_proxies: str = ""
    photo_max_pixels: int = Field(default=50_000_000, ge=1)

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if part:
                ipaddress.ip_network(part, strict=False)  # ValueError names the bad entry
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def webhook_targets(self) -> list[str]:
        """The outbound webhook URLs (empty: webhooks off)."""
        return [u.strip() for u in self.webhook_urls.split(",") if u.strip()]

    @property
    def open311_keys(self) -> set[str]:
        """API keys accepted by the Open311 door besides those issued in the app."""
        return {k.strip() for k in self.open311_api_keys.split(",") if k.strip()}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
