"""FlowAuth's service layer (flowkit.auth.service) on a real store, SQLite and PostgreSQL.

Expected values are worked out by hand from the fixture clock (START = 2026-03-02 09:00 UTC);
TOTP codes come from pyotp for a fixed secret at the clock's time.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, func, select
from tests.auth.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    ALICE,
    ALICE_PASSWORD,
    BOB,
    BOB_PASSWORD,
    CLIENT,
    START,
    audit_rows,
    last_audit_id,
)

from flowkit.api.openapi import openapi_document
from flowkit.auth.models import AuditEvent, BackupCode, Base, FailedLogin, Role, Server, Token, User
from flowkit.auth.passwords import WeakPassword, verify_password
from flowkit.auth.service import (
    SIGN_IN_REFUSED,
    Authority,
    NotAllowed,
    NotFound,
    Refused,
    SignInRefused,
    scopes_from_openapi,
)
from flowkit.auth.tokens import decompress_roles
from flowkit.machine.catalogue import scope_universe

WEAK_PASSWORD = "password1"
NEW_PASSWORD = "copper Kettle whistles 7 times"
CAROL, CAROL_PASSWORD = "carol", "Quokka-Saffron-Lattice-58"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
STEP = 30  # seconds per TOTP code
LOCKED = "Too many failed sign-ins for this account. Try again in 15 minutes."
LAST_ADMIN = "This is the last active administrator: make another one first."

SERVER = "flowapi-test"
SCOPES = [
    "admin3:spatial_aggregate:daily_location",
    "admin3:spatial_aggregate:spatial_aggregate",
    "get_result",
    "run",
]

# Tokens are stamped with the test clock, which stands in the past.
AT_ANY_TIME = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}


def totp(at: datetime) -> str:
    return pyotp.TOTP(TOTP_SECRET).at(at)


def store_text(db) -> list[str]:
    """Every non-null value of every column of every table in the store, as text."""
    metadata = MetaData()
    metadata.reflect(bind=db.connection())
    assert set(metadata.tables) == set(Base.metadata.tables) | {"alembic_version"}
    return [str(value) for table in metadata.tables.values() for row in db.execute(select(table)) for value in row]


def assert_nowhere_in_store(db, *secrets: str) -> None:
    texts = store_text(db)
    for secret in secrets:
        assert not [text for text in texts if secret in text], f"{secret!r} is stored"


def assert_not_in_audit(db, *secrets: str) -> None:
    events = db.scalars(select(AuditEvent)).all()
    assert events
    for event in events:
        text = repr((event.actor, event.action, event.target, event.outcome, event.client, event.detail))
        for secret in secrets:
            assert secret not in text, f"{secret!r} is in audit event {text}"


def failed_logins(db) -> list[tuple]:
    rows = db.scalars(select(FailedLogin).order_by(FailedLogin.id))
    return [(row.username, row.at, row.client) for row in rows]


# --- schema ----------------------------------------------------------------------------------


def test_the_migration_makes_exactly_the_models_schema(sessions):
    with sessions.kw["bind"].connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0001"


def test_timestamps_come_back_in_utc_whatever_zone_was_given_or_the_database_uses(call, admin, sessions):
    plus_two = timezone(timedelta(hours=2))
    server = call(admin, "create_server", SERVER, 120, datetime(2026, 3, 2, 12, 0, tzinfo=plus_two), SCOPES)
    with sessions() as fresh:
        expiry = fresh.get(Server, server.id).latest_token_expiry
        created = fresh.get(User, admin.id).created
    assert expiry == datetime(2026, 3, 2, 10, 0, tzinfo=UTC) and expiry.tzinfo == UTC
    assert created == START and created.tzinfo == UTC


def test_refusals_name_times_in_utc_after_reading_them_back(call, admin, db):
    server = call(admin, "create_server", SERVER, 120, START + timedelta(hours=2), SCOPES)
    db.expire_all()  # read the server's cap back from the store
    with pytest.raises(Refused) as refusal:
        call(admin, "create_role", server.id, "A", latest_token_expiry=START + timedelta(hours=3))
    assert str(refusal.value) == "A role's latest expiry cannot be after its server's (2026-03-02 11:00 UTC)."


def test_a_second_factor_is_refused_for_a_user_without_one(call, alice):
    with pytest.raises(Refused, match=r"^Two-factor sign-in is not enabled\.$"):
        call(None, "check_second_factor", alice, "123456")


# --- bootstrap and who may administer ----------------------------------------------------------


def test_only_the_first_user_is_made_without_an_administrator(call, db):
    with pytest.raises(Refused, match=r"^The first user must be an administrator\.$"):
        call(None, "create_user", ADMIN, ADMIN_PASSWORD)
    root = call(None, "create_user", ADMIN, ADMIN_PASSWORD, is_admin=True)
    assert (root.username, root.is_admin, root.disabled, root.created) == (ADMIN, True, False, START)

    with pytest.raises(SignInRefused, match=r"^Sign in first\.$"):  # nobody signed in: 401, not 403
        call(None, "create_user", ALICE, ALICE_PASSWORD, is_admin=True)
    alice = call(root, "create_user", ALICE, ALICE_PASSWORD)
    with pytest.raises(NotAllowed, match=r"^Only administrators can do that\.$"):
        call(alice, "create_user", BOB, BOB_PASSWORD)

    assert db.scalars(select(User.username).order_by(User.id)).all() == [ADMIN, ALICE]
    assert audit_rows(db) == [("create_user", None, ADMIN, "ok"), ("create_user", ADMIN, ALICE, "ok")]
    assert db.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)).all() == [
        {"is_admin": True, "roles": []},
        {"is_admin": False, "roles": []},
    ]


ADMIN_ONLY = {
    "users": lambda ids: ((), {}),
    "user": lambda ids: ((ids["alice"],), {}),
    "create_user": lambda ids: ((CAROL, CAROL_PASSWORD), {}),
    "update_user": lambda ids: ((ids["alice"],), {"is_admin": True}),
    "servers": lambda ids: ((), {}),
    "server": lambda ids: ((ids["server"],), {}),
    "create_server": lambda ids: (("other", 60, None, ["run"]), {}),
    "update_server": lambda ids: ((ids["server"],), {"longest_token_life_minutes": 60, "latest_token_expiry": None}),
    "role": lambda ids: ((ids["role"],), {}),
    "create_role": lambda ids: ((ids["server"], "B"), {}),
    "update_role": lambda ids: (
        (ids["role"],),
        {
            "name": "A2",
            "scope_ids": [],
            "member_ids": [ids["alice"]],
            "longest_token_life_minutes": None,
            "latest_token_expiry": None,
        },
    ),
    "delete_role": lambda ids: ((ids["role"],), {}),
    "all_tokens": lambda ids: ((), {}),
    "audit_events": lambda ids: ((), {}),
    "audit_actions": lambda ids: ((), {}),
}
# Everything else an Authority does: for anyone (signing in, revocation lists) or for oneself.
NOT_ADMIN_ONLY = {
    "audit",
    "change_password",
    "check_password",
    "check_second_factor",
    "confirm_two_factor",
    "disable_two_factor",
    "issue_token",
    "my_tokens",
    "regenerate_backup_codes",
    "revoke_token",
    "revoked_jtis",
    "servers_for_me",
    "signed_in",
    "token_limit",
}


def test_every_authority_method_is_known_to_be_for_administrators_or_not():
    public = {name for name, value in vars(Authority).items() if not name.startswith("_") and callable(value)}
    assert public == set(ADMIN_ONLY) | NOT_ADMIN_ONLY


@pytest.mark.parametrize("method", sorted(ADMIN_ONLY))
def test_administration_is_refused_to_a_user_who_is_not_an_administrator(call, admin, alice, db, method):
    server = call(admin, "create_server", SERVER, 120, None, SCOPES)
    role = call(admin, "create_role", server.id, "A", member_ids=[alice.id])
    args, kwargs = ADMIN_ONLY[method]({"alice": alice.id, "server": server.id, "role": role.id})
    before = sorted(store_text(db))

    with pytest.raises(NotAllowed, match=r"^Only administrators can do that\.$"):
        call(alice, method, *args, **kwargs)
    assert sorted(store_text(db)) == before
    call(admin, method, *args, **kwargs)  # the same call is fine from an administrator


# --- passwords -------------------------------------------------------------------------------


def test_a_weak_password_is_refused_when_made_changed_or_reset(call, admin, alice, db):
    with pytest.raises(WeakPassword, match=r"^Password too weak\. "):
        call(admin, "create_user", CAROL, WEAK_PASSWORD)
    with pytest.raises(WeakPassword, match=r"^Password too weak\. "):
        call(alice, "change_password", ALICE_PASSWORD, WEAK_PASSWORD)
    with pytest.raises(WeakPassword, match=r"^Password too weak\. "):
        call(admin, "update_user", alice.id, password=WEAK_PASSWORD)
    with pytest.raises(WeakPassword):  # strong in general, but made of the username
        call(admin, "create_user", "kittensmittens", "kittensmittens1")

    db.expire_all()
    assert db.scalars(select(User.username).order_by(User.id)).all() == [ADMIN, ALICE]
    assert verify_password(alice.password_hash, ALICE_PASSWORD) and alice.session_generation == 0
    assert audit_rows(db) == [("create_user", None, ADMIN, "ok"), ("create_user", ADMIN, ALICE, "ok")]


def test_weak_passwords_are_refusals_the_web_layer_shows(call, admin):
    with pytest.raises(Refused) as refusal:
        call(admin, "create_user", CAROL, WEAK_PASSWORD)
    assert refusal.value.status == 400


def test_changing_a_password_needs_the_current_one_and_ends_other_sessions(call, admin, alice, db):
    with pytest.raises(Refused, match=r"^The current password is wrong\.$"):
        call(alice, "change_password", BOB_PASSWORD, NEW_PASSWORD)
    db.expire_all()
    assert verify_password(alice.password_hash, ALICE_PASSWORD) and alice.session_generation == 0

    call(alice, "change_password", ALICE_PASSWORD, NEW_PASSWORD)
    assert verify_password(alice.password_hash, NEW_PASSWORD) and not verify_password(
        alice.password_hash, ALICE_PASSWORD
    )
    assert alice.session_generation == 1
    call(admin, "update_user", alice.id, password=CAROL_PASSWORD)
    assert verify_password(alice.password_hash, CAROL_PASSWORD) and alice.session_generation == 2
    call(admin, "update_user", alice.id, disabled=True)
    assert alice.session_generation == 3

    start = 2  # after the two create_user rows
    assert audit_rows(db)[start:] == [
        ("change_password", ALICE, ALICE, "refused"),
        ("change_password", ALICE, ALICE, "ok"),
        ("update_user", ADMIN, ALICE, "ok"),
        ("update_user", ADMIN, ALICE, "ok"),
    ]
    assert db.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)).all()[start:] == [
        {},
        {},
        {"password_reset": True},
        {"disabled": True},
    ]
    assert_not_in_audit(db, ALICE_PASSWORD, NEW_PASSWORD, CAROL_PASSWORD, BOB_PASSWORD)


def test_a_wrong_current_password_counts_as_a_failed_sign_in(call, alice, clock, db):
    for minute in range(5):
        clock.now = START + timedelta(minutes=minute)
        with pytest.raises(Refused, match=r"^The current password is wrong\.$"):
            call(alice, "change_password", BOB_PASSWORD, NEW_PASSWORD)
    assert failed_logins(db) == [(ALICE, START + timedelta(minutes=m), CLIENT) for m in range(5)]

    with pytest.raises(SignInRefused, match=f"^{re.escape(LOCKED)}$"):
        call(alice, "change_password", ALICE_PASSWORD, NEW_PASSWORD)  # even the right one, now
    with pytest.raises(SignInRefused, match=f"^{re.escape(LOCKED)}$"):
        call(None, "check_password", ALICE, ALICE_PASSWORD)
    db.expire_all()
    assert verify_password(alice.password_hash, ALICE_PASSWORD)
    assert (
        audit_rows(db, since_id=2)
        == [("change_password", ALICE, ALICE, "refused")] * 5 + [("sign_in", ALICE, ALICE, "locked")] * 2
    )


# --- signing in ------------------------------------------------------------------------------


def test_every_failed_sign_in_gets_the_same_answer(call, admin, alice, bob, db):
    call(admin, "update_user", bob.id, disabled=True)
    since = last_audit_id(db)
    refusals = []
    for username, password in [("nobody", ALICE_PASSWORD), (ALICE, BOB_PASSWORD), (BOB, BOB_PASSWORD)]:
        with pytest.raises(SignInRefused) as refusal:
            call(None, "check_password", username, password)
        refusals.append((type(refusal.value), str(refusal.value), refusal.value.status))
    assert refusals == [(SignInRefused, SIGN_IN_REFUSED, 401)] * 3
    assert SIGN_IN_REFUSED == "Incorrect username or password."

    assert failed_logins(db) == [("nobody", START, CLIENT), (ALICE, START, CLIENT), (BOB, START, CLIENT)]
    events = db.scalars(select(AuditEvent).where(AuditEvent.id > since).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor, e.target, e.outcome, e.client, e.detail) for e in events] == [
        ("sign_in", name, name, "failed", CLIENT, {"stage": "password"}) for name in ("nobody", ALICE, BOB)
    ]
    assert_not_in_audit(db, ALICE_PASSWORD, BOB_PASSWORD)


def test_a_good_sign_in_clears_the_failures(call, alice, clock, db):
    for _ in range(4):
        with pytest.raises(SignInRefused):
            call(None, "check_password", ALICE, BOB_PASSWORD)
    user = call(None, "check_password", ALICE, ALICE_PASSWORD)
    assert user.id == alice.id
    assert len(failed_logins(db)) == 4  # the password alone is not the whole sign-in
    call(None, "signed_in", user)
    assert failed_logins(db) == []
    for _ in range(4):
        with pytest.raises(SignInRefused):
            call(None, "check_password", ALICE, BOB_PASSWORD)
    assert call(None, "check_password", ALICE, ALICE_PASSWORD).id == alice.id  # 4 since the success, not 8
    assert audit_rows(db, since_id=2) == (
        [("sign_in", ALICE, ALICE, "failed")] * 4
        + [("sign_in", ALICE, ALICE, "ok")]
        + [("sign_in", ALICE, ALICE, "failed")] * 4
    )


def test_five_failures_in_fifteen_minutes_lock_the_account_until_the_first_is_older(call, alice, clock, db):
    for minute in range(5):
        clock.now = START + timedelta(minutes=minute)
        with pytest.raises(SignInRefused, match=f"^{re.escape(SIGN_IN_REFUSED)}$"):
            call(None, "check_password", ALICE, BOB_PASSWORD)
    with pytest.raises(SignInRefused, match=f"^{re.escape(LOCKED)}$"):
        call(None, "check_password", ALICE, ALICE_PASSWORD)  # the right password, the sixth try

    clock.now = START + timedelta(minutes=15)  # the first failure is exactly 15 minutes old: still counts
    with pytest.raises(SignInRefused, match=f"^{re.escape(LOCKED)}$"):
        call(None, "check_password", ALICE, ALICE_PASSWORD)
    clock.now = START + timedelta(minutes=15, seconds=1)  # now only four are recent
    assert call(None, "check_password", ALICE, ALICE_PASSWORD).id == alice.id

    assert failed_logins(db) == [(ALICE, START + timedelta(minutes=m), CLIENT) for m in range(5)]  # locks add none
    assert (
        audit_rows(db, since_id=2)
        == [("sign_in", ALICE, ALICE, "failed")] * 5 + [("sign_in", ALICE, ALICE, "locked")] * 2
    )
    assert [e.at for e in db.scalars(select(AuditEvent).where(AuditEvent.id > 2).order_by(AuditEvent.id))] == [
        START + timedelta(minutes=m) for m in (0, 1, 2, 3, 4, 4, 15)
    ]


def test_an_unknown_username_locks_the_same_way(call, alice, db):
    answers = {}
    for username in ("mallory", ALICE):
        for _ in range(5):
            with pytest.raises(SignInRefused):
                call(None, "check_password", username, BOB_PASSWORD)
        with pytest.raises(SignInRefused) as refusal:
            call(None, "check_password", username, ALICE_PASSWORD)
        answers[username] = (type(refusal.value), str(refusal.value))
    assert answers == {"mallory": (SignInRefused, LOCKED), ALICE: (SignInRefused, LOCKED)}
    assert [row[0] for row in failed_logins(db)] == ["mallory"] * 5 + [ALICE] * 5
    assert audit_rows(db, since_id=2) == [("sign_in", "mallory", "mallory", "failed")] * 5 + [
        ("sign_in", "mallory", "mallory", "locked")
    ] + [("sign_in", ALICE, ALICE, "failed")] * 5 + [("sign_in", ALICE, ALICE, "locked")]


# --- two-factor sign-in ----------------------------------------------------------------------


@pytest.fixture
def enrolled(call, alice, clock):
    """Alice with 2FA confirmed at START (so START's step is used); returns her backup codes."""
    return call(alice, "confirm_two_factor", TOTP_SECRET, totp(START))


def test_confirming_two_factor_needs_a_current_code(call, alice, clock, db, settings):
    current = int(START.timestamp()) // STEP
    window = {pyotp.TOTP(TOTP_SECRET).at(step * STEP) for step in (current - 1, current, current + 1)}
    wrong = pyotp.TOTP(TOTP_SECRET).at((current + 2) * STEP)
    assert wrong not in window
    with pytest.raises(Refused, match=r"^That code does not match\."):
        call(alice, "confirm_two_factor", TOTP_SECRET, wrong)
    db.expire_all()
    assert (alice.has_two_factor, alice.backup_codes) == (False, [])

    codes = call(alice, "confirm_two_factor", TOTP_SECRET, totp(START))
    assert alice.has_two_factor and alice.totp_last_step == current
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z0-9]{10}", code) for code in codes)
    sealed = db.scalar(select(User.totp_secret).where(User.id == alice.id))
    assert sealed != TOTP_SECRET and TOTP_SECRET not in sealed
    assert settings.secret_box.open(sealed) == TOTP_SECRET
    hashes = db.scalars(select(BackupCode.code_hash).where(BackupCode.user_id == alice.id)).all()
    assert len(hashes) == 10 and all(h.startswith("$argon2id$") for h in hashes)
    assert_nowhere_in_store(db, TOTP_SECRET, *codes)
    assert audit_rows(db, since_id=2) == [("enable_two_factor", ALICE, ALICE, "ok")]


def test_a_totp_code_works_once_and_the_next_steps_code_works_after_it(call, alice, enrolled, clock, db):
    with pytest.raises(SignInRefused, match=f"^{re.escape(SIGN_IN_REFUSED)}$"):
        call(None, "check_second_factor", alice, totp(START))  # used to confirm: not again

    clock.advance(seconds=STEP)
    call(None, "check_second_factor", alice, totp(clock.now))
    with pytest.raises(SignInRefused, match=f"^{re.escape(SIGN_IN_REFUSED)}$"):
        call(None, "check_second_factor", alice, totp(clock.now))  # the replay
    clock.advance(seconds=STEP)
    call(None, "check_second_factor", alice, f" {totp(clock.now)[:3]} {totp(clock.now)[3:]} ")  # as typed
    assert alice.totp_last_step == int(START.timestamp()) // STEP + 2

    assert failed_logins(db) == [(ALICE, START, CLIENT), (ALICE, START + timedelta(seconds=STEP), CLIENT)]
    events = db.scalars(select(AuditEvent).where(AuditEvent.id > 3).order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor, e.target, e.outcome, e.detail) for e in events] == [
        ("sign_in", ALICE, ALICE, "failed", {"stage": "second factor"})
    ] * 2


def test_a_backup_code_works_once(call, alice, enrolled, db):
    call(None, "check_second_factor", alice, enrolled[0])
    assert db.scalar(select(func.count()).select_from(BackupCode)) == 9
    with pytest.raises(SignInRefused, match=f"^{re.escape(SIGN_IN_REFUSED)}$"):
        call(None, "check_second_factor", alice, enrolled[0])
    call(None, "check_second_factor", alice, enrolled[1].upper())
    assert db.scalar(select(func.count()).select_from(BackupCode)) == 8
    assert audit_rows(db, since_id=3) == [
        ("backup_code_used", ALICE, ALICE, "ok"),
        ("sign_in", ALICE, ALICE, "failed"),
        ("backup_code_used", ALICE, ALICE, "ok"),
    ]
    assert_not_in_audit(db, *enrolled, TOTP_SECRET)


def test_regenerating_backup_codes_replaces_them(call, alice, enrolled, db):
    codes = call(alice, "regenerate_backup_codes", ALICE_PASSWORD)
    assert len(codes) == 10 and not set(codes) & set(enrolled)
    assert db.scalar(select(func.count()).select_from(BackupCode)) == 10
    with pytest.raises(SignInRefused):
        call(None, "check_second_factor", alice, enrolled[2])
    call(None, "check_second_factor", alice, codes[2])
    assert_nowhere_in_store(db, *codes, *enrolled)
    assert audit_rows(db, since_id=3) == [
        ("regenerate_backup_codes", ALICE, ALICE, "ok"),
        ("sign_in", ALICE, ALICE, "failed"),
        ("backup_code_used", ALICE, ALICE, "ok"),
    ]


def test_two_factor_can_be_turned_off_unless_required(call, admin, alice, enrolled, db):
    call(admin, "update_user", alice.id, require_two_factor=True)
    with pytest.raises(Refused, match=r"^Your administrator requires two-factor sign-in for this account\.$"):
        call(alice, "disable_two_factor", ALICE_PASSWORD)
    db.expire_all()
    assert alice.has_two_factor and len(alice.backup_codes) == 10

    call(admin, "update_user", alice.id, require_two_factor=False)
    call(alice, "disable_two_factor", ALICE_PASSWORD)
    assert (alice.totp_secret, alice.totp_last_step) == (None, None)
    assert db.scalar(select(func.count()).select_from(BackupCode)) == 0
    with pytest.raises(Refused, match=r"^Two-factor sign-in is not enabled\.$"):
        call(alice, "regenerate_backup_codes", ALICE_PASSWORD)
    assert audit_rows(db, since_id=3) == [
        ("update_user", ADMIN, ALICE, "ok"),
        ("update_user", ADMIN, ALICE, "ok"),
        ("disable_two_factor", ALICE, ALICE, "ok"),
    ]


def test_an_administrator_resets_two_factor(call, admin, alice, enrolled, db):
    call(admin, "update_user", alice.id, reset_two_factor=True)
    assert not alice.has_two_factor and db.scalar(select(func.count()).select_from(BackupCode)) == 0
    assert db.scalars(select(AuditEvent.detail).order_by(AuditEvent.id.desc()).limit(1)).one() == {
        "reset_two_factor": True
    }


# --- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def estate(call, admin, alice, bob):
    """Server SERVER (120 min, no latest) with roles A (60 min; run + the two spatial scopes) and
    B (90 min, latest START+30 min; get_result), both held by Alice, A also by Bob; server "other"
    (600 min) with role C (get_result) held by Alice."""
    server = call(admin, "create_server", SERVER, 120, None, SCOPES)
    ids = {scope.name: scope.id for scope in server.scopes}
    role_a = call(
        admin,
        "create_role",
        server.id,
        "A",
        scope_ids=[ids["run"], ids[SCOPES[1]], ids[SCOPES[0]]],
        member_ids=[alice.id, bob.id],
        longest_token_life_minutes=60,
    )
    role_b = call(
        admin,
        "create_role",
        server.id,
        "B",
        scope_ids=[ids["get_result"]],
        member_ids=[alice.id],
        longest_token_life_minutes=90,
        latest_token_expiry=START + timedelta(minutes=30),
    )
    other = call(admin, "create_server", "other", 600, None, ["get_result"])
    role_c = call(admin, "create_role", other.id, "C", scope_ids=[other.scopes[0].id], member_ids=[alice.id])
    return {"server": server, "A": role_a, "B": role_b, "other": other, "C": role_c}


def test_a_token_lasts_until_the_tightest_cap_of_its_server_and_roles(call, alice, estate, settings, db):
    authority = Authority(settings, db, alice)
    a, b = estate["A"], estate["B"]
    # server: now+120; A: now+60; B: min(now+90, START+30) — all at START
    assert authority.token_limit(estate["server"], [a, b]) == START + timedelta(minutes=30)
    assert authority.token_limit(estate["server"], [a]) == START + timedelta(minutes=60)
    assert authority.token_limit(estate["server"], []) == START + timedelta(minutes=120)

    call(alice, "issue_token", estate["server"].id, [a.id, b.id], "both", None)
    call(alice, "issue_token", estate["server"].id, [a.id], "a only", None)
    call(alice, "issue_token", estate["server"].id, [a.id], "a shorter", START + timedelta(minutes=20))
    records = db.scalars(select(Token).order_by(Token.id)).all()
    assert [(t.name, t.role_names, t.issued, t.expires) for t in records] == [
        ("both", ["A", "B"], START, START + timedelta(minutes=30)),
        ("a only", ["A"], START, START + timedelta(minutes=60)),
        ("a shorter", ["A"], START, START + timedelta(minutes=20)),
    ]


@pytest.mark.parametrize(
    "roles, expires, error, message",
    [
        (
            ["A", "B"],
            START + timedelta(minutes=31),
            Refused,
            "The latest expiry allowed for these roles is 2026-03-02 09:30 UTC.",
        ),
        (
            ["A"],
            START + timedelta(minutes=61),
            Refused,
            "The latest expiry allowed for these roles is 2026-03-02 10:00 UTC.",
        ),
        (["A"], START, Refused, "The expiry must be in the future."),
        (["A"], START - timedelta(minutes=1), Refused, "The expiry must be in the future."),
        (["A", "C"], None, NotAllowed, "You can only choose roles you hold on this server."),  # C is on "other"
        ([], None, Refused, "Choose at least one role."),
    ],
)
def test_tokens_beyond_the_rules_are_refused(call, alice, estate, db, roles, expires, error, message):
    with pytest.raises(error) as refusal:
        call(alice, "issue_token", estate["server"].id, [estate[name].id for name in roles], "t", expires)
    assert type(refusal.value) is error and str(refusal.value) == message
    assert db.scalar(select(func.count()).select_from(Token)) == 0


def test_a_role_not_held_is_refused(call, bob, estate, db):
    with pytest.raises(NotAllowed, match=r"^You can only choose roles you hold on this server\.$"):
        call(bob, "issue_token", estate["server"].id, [estate["A"].id, estate["B"].id], "t", None)
    with pytest.raises(NotFound, match=r"^No such server\.$"):
        call(bob, "issue_token", 999, [estate["A"].id], "t", None)
    assert db.scalar(select(func.count()).select_from(Token)) == 0


def test_the_token_carries_the_user_server_jti_and_sorted_scopes_and_is_not_stored(call, alice, estate, key_pair, db):
    token = call(alice, "issue_token", estate["server"].id, [estate["B"].id, estate["A"].id], " mine ", None)
    record = db.scalars(select(Token)).one()

    claims = jwt.decode(token, key_pair[1], algorithms=["RS256"], audience=SERVER, options=AT_ANY_TIME)
    assert set(claims) == {"iat", "nbf", "exp", "jti", "sub", "aud", "user_claims"}
    assert (claims["sub"], claims["aud"], claims["jti"]) == (ALICE, SERVER, record.jti)
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", record.jti)
    assert claims["exp"] - claims["iat"] == 30 * 60 and claims["nbf"] == claims["iat"]
    assert (claims["iat"], claims["exp"]) == (record.issued.timestamp(), record.expires.timestamp())
    assert decompress_roles(claims["user_claims"]) == {
        "A": ["admin3:spatial_aggregate:daily_location", "admin3:spatial_aggregate:spatial_aggregate", "run"],
        "B": ["get_result"],
    }
    assert (record.name, record.user_id, record.server_id, record.revoked) == (
        "mine",
        alice.id,
        estate["server"].id,
        None,
    )
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key_pair[1], algorithms=["RS256"], audience="other", options=AT_ANY_TIME)

    header, payload, signature = token.split(".")
    assert_nowhere_in_store(db, token, payload, signature)
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.actor, event.target, event.outcome, event.detail) == (
        "issue_token",
        ALICE,
        f"{SERVER}/mine",
        "ok",
        {"jti": record.jti, "roles": ["A", "B"]},
    )


def test_token_scopes_are_sorted_even_when_scope_ids_are_not(call, admin, alice, key_pair):
    server = call(admin, "create_server", SERVER, 120, None, ["b", "c"])
    call(
        admin,
        "update_server",
        server.id,
        longest_token_life_minutes=120,
        latest_token_expiry=None,
        scopes=["a", "b", "c"],
    )
    role = call(admin, "create_role", server.id, "R", scope_ids=[s.id for s in server.scopes], member_ids=[alice.id])
    token = call(alice, "issue_token", server.id, [role.id], "t", None)
    claims = jwt.decode(token, key_pair[1], algorithms=["RS256"], audience=SERVER, options=AT_ANY_TIME)
    assert decompress_roles(claims["user_claims"]) == {"R": ["a", "b", "c"]}


# --- revocation ------------------------------------------------------------------------------


def test_a_token_is_revoked_by_its_owner_or_an_administrator_only(call, admin, alice, bob, estate, db):
    mine = call(alice, "issue_token", estate["server"].id, [estate["A"].id], "alice's", None)
    theirs = call(bob, "issue_token", estate["server"].id, [estate["A"].id], "bob's", None)
    alice_token, bob_token = db.scalars(select(Token).order_by(Token.id)).all()
    assert mine and theirs

    with pytest.raises(NotFound, match=r"^No such token\.$"):
        call(bob, "revoke_token", alice_token.id)
    with pytest.raises(NotFound, match=r"^No such token\.$"):
        call(bob, "revoke_token", 999)
    assert alice_token.revoked is None

    call(alice, "revoke_token", alice_token.id)
    call(admin, "revoke_token", bob_token.id)
    call(admin, "revoke_token", bob_token.id)  # again: nothing changes, nothing more is audited
    db.expire_all()
    assert [(t.revoked, t.revoked_by) for t in (alice_token, bob_token)] == [(START, ALICE), (START, ADMIN)]
    events = db.scalars(select(AuditEvent).where(AuditEvent.action == "revoke_token").order_by(AuditEvent.id)).all()
    assert [(e.actor, e.target, e.outcome, e.detail) for e in events] == [
        (ALICE, f"{SERVER}/alice's", "ok", {"jti": alice_token.jti, "owner": ALICE}),
        (ADMIN, f"{SERVER}/bob's", "ok", {"jti": bob_token.jti, "owner": BOB}),
    ]
    assert_not_in_audit(db, mine, theirs)


def test_revoked_jtis_are_the_revoked_unexpired_tokens_of_that_server(
    call, admin, alice, bob, estate, clock, db, settings
):
    server, other = estate["server"].id, estate["other"].id
    a, c = estate["A"].id, estate["C"].id
    for owner, server_id, role_id, name, expires in [
        (alice, server, a, "kept", None),
        (alice, server, a, "revoked", None),
        (bob, server, a, "bob revoked", None),
        (alice, server, a, "short", START + timedelta(minutes=10)),
        (alice, other, c, "elsewhere", None),
    ]:
        call(owner, "issue_token", server_id, [role_id], name, expires)
    jti = {t.name: t.jti for t in db.scalars(select(Token))}
    for name in ("revoked", "bob revoked", "short", "elsewhere"):
        call(admin, "revoke_token", db.scalar(select(Token.id).where(Token.name == name)))

    def revoked(server_name: str) -> list[str]:
        return Authority(settings, db).revoked_jtis(server_name)  # anyone may ask: FlowAPI does

    clock.now = START + timedelta(minutes=9, seconds=59)
    assert revoked(SERVER) == sorted([jti["revoked"], jti["bob revoked"], jti["short"]])
    assert revoked("other") == [jti["elsewhere"]]
    assert revoked("nowhere") == []
    clock.now = START + timedelta(minutes=10)  # "short" expired: no need to list it any more
    assert revoked(SERVER) == sorted([jti["revoked"], jti["bob revoked"]])
    clock.now = START + timedelta(minutes=60)
    assert revoked(SERVER) == []


# --- administration --------------------------------------------------------------------------


def test_a_role_cannot_outlast_its_server(call, admin, db):
    server = call(admin, "create_server", SERVER, 120, START + timedelta(hours=2), SCOPES)
    cases = [
        ({"longest_token_life_minutes": 121}, "A role's longest token life cannot exceed its server's (120 minutes)."),
        ({"longest_token_life_minutes": 0}, "The longest token life must be at least one minute."),
        (
            {"latest_token_expiry": START + timedelta(hours=2, minutes=1)},
            "A role's latest expiry cannot be after its server's (2026-03-02 11:00 UTC).",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(Refused) as refusal:
            call(admin, "create_role", server.id, "A", **kwargs)
        assert str(refusal.value) == message
    role = call(admin, "create_role", server.id, "A")  # unset caps are the server's
    assert (role.longest_token_life_minutes, role.latest_token_expiry) == (120, START + timedelta(hours=2))
    role = call(
        admin,
        "create_role",
        server.id,
        "B",
        longest_token_life_minutes=120,
        latest_token_expiry=START + timedelta(hours=1),
    )
    assert (role.longest_token_life_minutes, role.latest_token_expiry) == (120, START + timedelta(hours=1))
    assert db.scalars(select(Role.name).order_by(Role.name)).all() == ["A", "B"]


def test_a_role_holds_only_its_servers_scopes(call, admin, db):
    server = call(admin, "create_server", SERVER, 120, None, SCOPES)
    other = call(admin, "create_server", "other", 120, None, ["run"])
    with pytest.raises(Refused, match=r"^A role can only hold scopes its server offers\.$"):
        call(admin, "create_role", server.id, "A", scope_ids=[server.scopes[0].id, other.scopes[0].id])
    role = call(admin, "create_role", server.id, "A", scope_ids=[server.scopes[0].id])
    with pytest.raises(Refused, match=r"^A role can only hold scopes its server offers\.$"):
        call(
            admin,
            "update_role",
            role.id,
            name="A",
            scope_ids=[other.scopes[0].id],
            member_ids=[],
            longest_token_life_minutes=None,
            latest_token_expiry=None,
        )
    db.expire_all()
    assert [scope.name for scope in role.scopes] == [SCOPES[0]]


def test_names_are_unique_users_and_servers_everywhere_roles_per_server(call, admin, alice, db):
    with pytest.raises(Refused, match=r"^A user named 'alice' already exists\.$"):
        call(admin, "create_user", " alice ", CAROL_PASSWORD)
    server = call(admin, "create_server", SERVER, 120, None, SCOPES)
    with pytest.raises(Refused, match=r"^A server named 'flowapi-test' already exists\.$"):
        call(admin, "create_server", SERVER, 60, None, [])
    other = call(admin, "create_server", "other", 120, None, [])
    role = call(admin, "create_role", server.id, "viewer")
    with pytest.raises(Refused, match=r"^Server 'flowapi-test' already has a role named 'viewer'\.$"):
        call(admin, "create_role", server.id, "viewer")
    call(admin, "create_role", other.id, "viewer")  # the same name on another server is fine
    runner = call(admin, "create_role", server.id, "runner")
    unchanged = {"scope_ids": [], "member_ids": [], "longest_token_life_minutes": None, "latest_token_expiry": None}
    with pytest.raises(Refused, match=r"^Server 'flowapi-test' already has a role named 'viewer'\.$"):
        call(admin, "update_role", runner.id, name="viewer", **unchanged)
    call(admin, "update_role", role.id, name="viewer", **unchanged)  # keeping its own name is fine
    for bad in ("", " ", "x" * 76):
        with pytest.raises(Refused, match=r"^A role name has 1 to 75 characters\.$"):
            call(admin, "create_role", server.id, bad)
    assert db.scalars(select(User.username).order_by(User.id)).all() == [ADMIN, ALICE]
    assert db.scalars(select(Server.name).order_by(Server.id)).all() == [SERVER, "other"]
    assert sorted(db.execute(select(Role.server_id, Role.name))) == sorted(
        [(server.id, "viewer"), (other.id, "viewer"), (server.id, "runner")]
    )


def test_the_last_active_administrator_stays_one(call, admin, alice, bob, db):
    for change in ({"is_admin": False}, {"disabled": True}):
        with pytest.raises(Refused, match=f"^{re.escape(LAST_ADMIN)}$"):
            call(admin, "update_user", admin.id, **change)
    call(admin, "update_user", alice.id, is_admin=True)
    call(admin, "update_user", bob.id, is_admin=True)
    call(admin, "update_user", bob.id, disabled=True)  # two active admins remain
    call(alice, "update_user", admin.id, is_admin=False)  # one active (alice) remains
    with pytest.raises(Refused, match=f"^{re.escape(LAST_ADMIN)}$"):
        call(alice, "update_user", alice.id, disabled=True)
    call(alice, "update_user", bob.id, is_admin=False)  # bob is disabled: alice stays the active admin
    db.expire_all()
    assert db.execute(select(User.username, User.is_admin, User.disabled).order_by(User.id)).all() == [
        (ADMIN, False, False),
        (ALICE, True, False),
        (BOB, False, True),
    ]
    assert audit_rows(db, since_id=3) == [
        ("update_user", ADMIN, ALICE, "ok"),
        ("update_user", ADMIN, BOB, "ok"),
        ("update_user", ADMIN, BOB, "ok"),
        ("update_user", ALICE, ADMIN, "ok"),
        ("update_user", ALICE, BOB, "ok"),
    ]


def test_updating_a_servers_scopes_and_caps_carries_over_to_its_roles(call, admin, alice, db, sessions):
    server = call(admin, "create_server", SERVER, 120, None, ["a", "b", "c"])
    ids = {scope.name: scope.id for scope in server.scopes}
    role = call(
        admin,
        "create_role",
        server.id,
        "R",
        scope_ids=list(ids.values()),
        member_ids=[alice.id],
        longest_token_life_minutes=90,
    )
    latest = START + timedelta(hours=1)
    call(
        admin, "update_server", server.id, longest_token_life_minutes=45, latest_token_expiry=latest, scopes=["a", "d"]
    )

    assert [scope.name for scope in server.scopes] == ["a", "d"]
    assert [scope.name for scope in role.scopes] == ["a"]  # in this session as well as in the store
    assert (role.longest_token_life_minutes, role.latest_token_expiry) == (45, latest)
    with sessions() as fresh:
        assert [scope.name for scope in fresh.get(Server, server.id).scopes] == ["a", "d"]
        assert [scope.name for scope in fresh.get(Role, role.id).scopes] == ["a"]
        assert fresh.get(Server, server.id).scopes[0].id == ids["a"]  # kept, not made again
    event = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.actor, event.target, event.outcome, event.detail) == (
        "update_server",
        ADMIN,
        SERVER,
        "ok",
        {"longest_token_life_minutes": 45, "scopes_added": 1, "scopes_removed": 2},
    )


def test_scopes_come_from_a_flowapi_openapi_document():
    assert scopes_from_openapi(openapi_document(SERVER, "1.0")) == sorted(scope_universe())
    assert len(scope_universe()) == len(set(scope_universe())) > 4
    doc = {
        "components": {
            "securitySchemes": {"a": {"x-security-scopes": ["run", "b:x:y"]}, "b": {"x-security-scopes": ["run"]}}
        }
    }
    assert scopes_from_openapi(doc) == ["b:x:y", "run"]
    message = "This document lists no x-security-scopes: is it a FlowAPI /api/0/spec/openapi.json?"
    for empty in (
        {},
        {"components": {"securitySchemes": {"token": {"type": "http"}}}},
        {"openapi": "3.0.1", "paths": {}},
    ):
        with pytest.raises(Refused) as refusal:
            scopes_from_openapi(empty)
        assert str(refusal.value) == message


# --- audit -----------------------------------------------------------------------------------


def test_audit_events_filter_by_actor_action_and_time(call, admin, alice, clock, db):
    clock.now = START + timedelta(minutes=10)
    call(alice, "change_password", ALICE_PASSWORD, NEW_PASSWORD)
    clock.now = START + timedelta(minutes=20)
    server = call(admin, "create_server", SERVER, 120, None, SCOPES)
    clock.now = START + timedelta(minutes=30)
    call(admin, "create_role", server.id, "A")

    def events(**filters) -> list[tuple]:
        found = call(admin, "audit_events", **filters)
        return [(e.action, e.actor, e.at) for e in found]

    minute = lambda m: START + timedelta(minutes=m)  # noqa: E731
    everything = [
        ("create_role", ADMIN, minute(30)),
        ("create_server", ADMIN, minute(20)),
        ("change_password", ALICE, minute(10)),
        ("create_user", ADMIN, minute(0)),
        ("create_user", None, minute(0)),
    ]
    assert events() == everything  # newest first
    assert events(actor=ADMIN) == [everything[i] for i in (0, 1, 3)]
    assert events(actor=ALICE) == [everything[2]]
    assert events(action="create_user") == everything[3:]
    assert events(actor=ADMIN, action="create_user") == [everything[3]]
    assert events(since=minute(10)) == everything[:3]  # since is inclusive
    assert events(until=minute(20)) == everything[2:]  # until is exclusive
    assert events(since=minute(10), until=minute(30)) == everything[1:3]
    assert events(limit=2) == everything[:2]
    assert [e.client for e in call(admin, "audit_events")] == [CLIENT] * 5


def test_no_audit_event_holds_a_secret(call, admin, alice, estate, clock, db):
    call(alice, "change_password", ALICE_PASSWORD, NEW_PASSWORD)
    call(admin, "update_user", alice.id, password=CAROL_PASSWORD)
    with pytest.raises(SignInRefused):
        call(None, "check_password", ALICE, NEW_PASSWORD)
    user = call(None, "check_password", ALICE, CAROL_PASSWORD)
    codes = call(alice, "confirm_two_factor", TOTP_SECRET, totp(START))
    clock.advance(seconds=STEP)
    call(None, "check_second_factor", user, totp(clock.now))
    with pytest.raises(SignInRefused):
        call(None, "check_second_factor", user, totp(clock.now))
    call(None, "check_second_factor", user, codes[0])
    call(None, "signed_in", user)
    new_codes = call(alice, "regenerate_backup_codes", CAROL_PASSWORD)
    token = call(alice, "issue_token", estate["server"].id, [estate["A"].id], "t", None)
    call(alice, "revoke_token", db.scalar(select(Token.id)))

    secrets = [
        ADMIN_PASSWORD,
        ALICE_PASSWORD,
        BOB_PASSWORD,
        NEW_PASSWORD,
        CAROL_PASSWORD,
        TOTP_SECRET,
        *codes,
        *new_codes,
        token,
        token.split(".")[2],
    ]
    assert_not_in_audit(db, *secrets, totp(START), totp(clock.now))
    assert_nowhere_in_store(
        db, *secrets
    )  # six digits could turn up by chance in a hash: only audit is checked for codes
    assert [row[0] for row in audit_rows(db)] == [
        "create_user",
        "create_user",
        "create_user",
        "create_server",
        "create_role",
        "create_role",
        "create_server",
        "create_role",
        "change_password",
        "update_user",
        "sign_in",
        "enable_two_factor",
        "sign_in",
        "backup_code_used",
        "sign_in",
        "regenerate_backup_codes",
        "issue_token",
        "revoke_token",
    ]


def test_disabling_a_user_revokes_their_live_tokens(call, admin, alice, estate, clock, db):
    call(alice, "issue_token", estate["server"].id, [estate["A"].id], "live", None)
    expired = call(alice, "issue_token", estate["server"].id, [estate["A"].id], "short", START + timedelta(minutes=1))
    assert expired
    clock.advance(minutes=2)
    call(admin, "update_user", alice.id, disabled=True)
    tokens = {token.name: token for token in db.scalars(select(Token))}
    assert (tokens["live"].revoked, tokens["live"].revoked_by) == (START + timedelta(minutes=2), ADMIN)
    assert tokens["short"].revoked is None  # already expired: nothing to revoke
    assert db.scalars(select(AuditEvent.detail).order_by(AuditEvent.id.desc()).limit(1)).one() == {
        "disabled": True,
        "tokens_revoked": 1,
    }
