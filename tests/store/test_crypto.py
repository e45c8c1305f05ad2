"""Personal data at rest: AES-GCM values under a key ring, start-up checks, key rotation."""

from __future__ import annotations

import base64
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cityops.cases.models import Case, CaseReport
from cityops.settings import Settings
from cityops.store import crypto
from cityops.store.base import Base
from cityops.store.rekey import rotate
from tests import citykit
from tests.conftest import TEST_DATA_KEY

KEY_A = base64.b64encode(b"A" * 32).decode()
KEY_B = base64.b64encode(b"B" * 32).decode()
PHONE = "13812341234"
NAME = "张三"
ID_NUMBER = "500107199001011234"


def ring(spec: str) -> crypto.KeyRing:
    return crypto.parse_ring(spec)


@pytest.fixture
def keys() -> Iterator[crypto.KeyRing]:
    """Install a ring for the test; put the suite's test key back afterwards."""
    before = crypto.ring()
    yield before
    crypto.install(before)


def test_a_value_round_trips_and_never_repeats_its_ciphertext() -> None:
    r = ring(f"a:{KEY_A}")
    one, two = r.encrypt(PHONE), r.encrypt(PHONE)
    assert one != two and one.startswith("enc1.a.") and PHONE not in one
    assert r.decrypt(one) == r.decrypt(two) == PHONE
    assert r.decrypt("") == "" and r.decrypt(r.encrypt("")) == ""
    assert r.decrypt("written before encryption") == "written before encryption"


def test_a_wrong_or_unknown_key_is_a_clear_error_not_garbage() -> None:
    stored = ring(f"a:{KEY_A}").encrypt(PHONE)
    with pytest.raises(crypto.DataKeyError) as wrong:
        ring(f"a:{KEY_B}").decrypt(stored)
    assert wrong.value.code == "data_key_wrong"
    with pytest.raises(crypto.DataKeyError) as unknown:
        ring(f"b:{KEY_B}").decrypt(stored)
    assert unknown.value.code == "data_key_unknown" and "'a'" in unknown.value.message
    tampered = stored[:-4] + ("AAAA" if not stored.endswith("AAAA") else "BBBB")
    with pytest.raises(crypto.DataKeyError):
        ring(f"a:{KEY_A}").decrypt(tampered)


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"data_key": "not base64!!"}, "data_key_malformed"),
        ({"data_key": base64.b64encode(b"short").decode()}, "data_key_malformed"),
        ({"data_keys": f":{KEY_A}"}, "data_key_malformed"),
        ({"data_keys": f"a-b:{KEY_A}"}, "data_key_malformed"),
        ({"data_keys": f"a:{KEY_A},a:{KEY_B}"}, "data_key_malformed"),
    ],
)
def test_malformed_key_settings_are_refused(settings: dict[str, str], code: str) -> None:
    with pytest.raises(crypto.DataKeyError) as exc:
        crypto.ring_from_settings(Settings(**settings))  # type: ignore[arg-type]
    assert exc.value.code == code


def test_without_a_key_one_is_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "data.key"
    settings = Settings(data_key=None, data_keys="", data_key_file=path)
    first = crypto.ring_from_settings(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = crypto.ring_from_settings(settings)  # a restart reads the same key
    assert again.decrypt(first.encrypt(PHONE)) == PHONE
    assert again.current == first.current == crypto.fingerprint(_b(path.read_text()))


def _b(text_: str) -> bytes:
    return base64.b64decode(text_.strip())


def test_a_lone_key_can_be_rotated_out_by_listing_it_second() -> None:
    lone = crypto.ring_from_settings(Settings(data_key=KEY_A, data_keys=""))
    stored = lone.encrypt(PHONE)
    rotated = crypto.ring_from_settings(Settings(data_keys=f"k2:{KEY_B},{KEY_A}"))
    assert rotated.current == "k2" and rotated.decrypt(stored) == PHONE


def test_data_keys_take_precedence_and_the_first_encrypts() -> None:
    r = crypto.ring_from_settings(
        Settings(data_key=TEST_DATA_KEY, data_keys=f"new:{KEY_B},old:{KEY_A}")
    )
    assert r.current == "new"
    assert r.decrypt(ring(f"old:{KEY_A}").encrypt(PHONE)) == PHONE


def _stored_case(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as s:
        citykit.build(s)
    from tests.cases.test_retention import make_case  # one builder for a bare case row

    with session_factory.begin() as s:
        case = make_case(s, name=NAME, phone=PHONE, id_number=ID_NUMBER)
        s.add(CaseReport(case_id=case.id, channel=case.channel, reported_at=case.reported_at,
                         text="", lat=case.lat, lng=case.lng, reporter_name=NAME,
                         reporter_phone=PHONE))  # fmt: skip
        return case.id


def test_the_database_holds_no_plaintext_and_reads_it_back(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    case_id = _stored_case(session_factory)
    with engine.connect() as conn:
        raw = conn.execute(
            text('SELECT reporter_name, reporter_phone, reporter_id_number FROM "case"')
        ).one()
        report = conn.execute(text("SELECT reporter_name, reporter_phone FROM case_report")).one()
    for value in (*raw, *report):
        assert value.startswith("enc1.")
        assert NAME not in value and PHONE not in value and ID_NUMBER not in value
    with session_factory() as s:
        case = s.get(Case, case_id)
        assert case is not None
        assert (case.reporter_name, case.reporter_phone, case.reporter_id_number) == (
            NAME,
            PHONE,
            ID_NUMBER,
        )


def test_start_up_stops_on_a_key_that_does_not_open_the_data(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    _stored_case(session_factory)
    tables = list(Base.metadata.tables.values())
    crypto.check_readable(engine, tables, crypto.ring())  # the key it was written with
    with pytest.raises(crypto.DataKeyError) as exc:
        crypto.check_readable(engine, tables, ring(f"{crypto.ring().current}:{KEY_B}"))
    assert exc.value.code == "data_key_wrong"
    with pytest.raises(crypto.DataKeyError) as missing:
        crypto.check_readable(engine, tables, ring(f"other:{KEY_B}"))
    assert missing.value.code == "data_key_unknown"


def test_rotation_re_encrypts_everything_under_the_new_key(
    engine: Engine, session_factory: sessionmaker[Session], keys: crypto.KeyRing
) -> None:
    case_id = _stored_case(session_factory)
    with engine.begin() as conn:  # a row written before encryption existed
        conn.execute(text("UPDATE case_report SET reporter_phone = '13900001111'"))
    tables = list(Base.metadata.tables.values())
    both = crypto.KeyRing((("new", b"N" * 32), *keys.keys))
    counted = rotate(engine, tables, both, batch=1, dry_run=True)
    assert counted.values_rewritten == 5  # 3 on the case, 2 on the report
    done = rotate(engine, tables, both, batch=1)
    assert done.values_rewritten == 5 and done.by_table == {"case": 3, "case_report": 2}
    assert rotate(engine, tables, both).values_rewritten == 0  # nothing left under old keys
    crypto.install(crypto.KeyRing((("new", b"N" * 32),)))  # the old key dropped
    crypto.check_readable(engine, tables, crypto.ring())
    with session_factory() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.reporter_phone == PHONE
        (report,) = s.query(CaseReport).all()
        assert report.reporter_phone == "13900001111"
