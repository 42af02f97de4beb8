"""The sans-IO protocol core, driven with canned `httpx.Response`s: requests, replies, errors, progress."""

import jwt
import pandas as pd
import pytest
from httpx import Response

from flowkit.client import protocol
from flowkit.client.connection import Connection
from flowkit.client.errors import APIError, AuthorizationError, ConnectionFailed, QueryNotFound, TokenError
from flowkit.client.protocol import Progress, Request, Sleep

SPEC = {"query_kind": "spatial_aggregate", "locations": {"query_kind": "daily_location"}}
QID = "5ffe4a96dbe33a117ae9550178b81836"


def drive(operation, replies):
    """Run an operation on canned replies (one per Request); return (effects, result)."""
    effects, replies = [], iter(replies)
    try:
        effect = next(operation)
        while True:
            effects.append(effect)
            effect = operation.send(None if isinstance(effect, Sleep) else next(replies))
    except StopIteration as done:
        return effects, done.value


def accepted(query_id=QID):
    return Response(202, headers={"Location": f"/api/0/poll/{query_id}"}, json={"query_id": query_id, "progress": {}})


def running(eligible, status="executing"):
    progress = {"eligible": eligible, "queued": 0, "running": 1}
    return Response(202, json={"status": status, "msg": "", "progress": progress})


def ready(query_id=QID, version=0):
    return Response(303, headers={"Location": f"/api/{version}/get/{query_id}"}, json={"status": "completed"})


COLLECTION = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"pcod": "A"}}]}
ROWS = {"query_id": QID, "query_result": [{"pcod": "A", "value": 16}, {"pcod": "B", "value": 20}]}


def test_run_query_posts_the_spec_and_reads_the_id_from_location():
    effects, query_id = drive(protocol.run_query(SPEC), [accepted()])
    assert effects == [Request("POST", "run", json=SPEC)]
    assert query_id == QID


@pytest.mark.parametrize(
    "reply, error, status, msg, payload",
    [
        (Response(401, json={"msg": "Token has expired"}), AuthorizationError, 401, "Token has expired", None),
        (Response(403, json={"msg": "User claims failed"}), AuthorizationError, 403, "User claims failed", None),
        (Response(404, text="Unknown query ID"), QueryNotFound, 404, "Unknown query ID", None),
        (Response(400, json={"status": "Error", "msg": "bad", "payload": {"x": 1}}), APIError, 400, "bad", {"x": 1}),
        (Response(422, json={"msg": "Bad signature"}), APIError, 422, "Bad signature", None),
        (Response(500), APIError, 500, "Unexpected reply: Internal Server Error", None),
        (Response(200, json={"query_id": QID}), APIError, 200, "Unexpected reply: OK", {"query_id": QID}),
    ],
)
def test_unexpected_replies_map_to_one_error_tree(reply, error, status, msg, payload):
    with pytest.raises(error) as raised:
        drive(protocol.run_query(SPEC), [reply])
    assert type(raised.value) is error
    assert (raised.value.status, raised.value.msg, raised.value.payload) == (status, msg, payload)
    assert str(raised.value) == f"HTTP {status}: {msg}"


def test_a_reply_missing_what_the_protocol_promises_is_an_api_error():
    with pytest.raises(APIError, match="Location"):
        drive(protocol.run_query(SPEC), [Response(202)])
    with pytest.raises(APIError, match="progress.eligible"):
        drive(protocol.wait_until_ready(QID), [Response(202, json={"status": "queued"})])


@pytest.mark.parametrize(
    "reply, status",
    [
        (running(3, "queued"), "queued"),
        (running(1), "executing"),
        (ready(), "completed"),
        (Response(404), "not_running"),
    ],
)
def test_status_from_one_poll(reply, status):
    effects, result = drive(protocol.get_status(QID), [reply])
    assert effects == [Request("GET", f"poll/{QID}")] and result == status


def test_status_of_a_query_never_run_needs_no_request():
    assert drive(protocol.get_status(None), []) == ([], "not_running")


def test_an_errored_query_raises_with_the_servers_message():
    with pytest.raises(APIError, match="boom") as raised:
        drive(protocol.get_status(QID), [Response(500, json={"status": "errored", "msg": "boom"})])
    assert raised.value.status == 500


def test_query_is_ready_returns_the_reply():
    _, (is_ready, reply) = drive(protocol.query_is_ready(QID), [running(2)])
    assert not is_ready and reply.json()["progress"]["eligible"] == 2


def test_wait_polls_sleeps_between_polls_and_returns_the_result_path():
    waiting = protocol.wait_until_ready(QID, poll_interval=0.25, disable_progress=True)
    effects, path = drive(waiting, [running(4), running(2), ready(version=12)])
    poll = Request("GET", f"poll/{QID}")
    assert effects == [poll, Sleep(0.25), poll, Sleep(0.25), poll]
    assert path == f"get/{QID}"  # Location /api/12/get/<id> stripped of its API prefix


def test_wait_shows_parts_run_from_the_first_polls_eligible_count(capsys):
    waiting = protocol.wait_until_ready(QID, poll_interval=0, disable_progress=False)
    drive(waiting, [running(4), running(3), running(1), ready()])
    bar = capsys.readouterr().err.split("\r")[-1]
    assert bar.startswith("Parts run: 100%") and "4/4" in bar and "q/s" in bar


def test_wait_for_a_query_ready_at_once_shows_no_bar(capsys):
    effects, _ = drive(protocol.wait_until_ready(QID, disable_progress=False), [ready()])
    assert len(effects) == 1 and capsys.readouterr().err == ""


def test_wait_for_a_query_never_run_raises_before_asking():
    with pytest.raises(QueryNotFound, match="not running") as raised:
        drive(protocol.wait_until_ready(None), [])
    assert raised.value.status is None


def test_progress_advances_as_eligible_falls_and_never_backwards():
    with Progress(5, disable=False) as progress:
        steps = []
        for eligible in (5, 3, 4, 1, 0):
            progress.advance(eligible)
            steps.append((progress.done, progress.bar.n))
    assert progress.bar.total == 5 and progress.bar.desc == "Parts run" and progress.bar.unit == "q"
    assert steps == [(0, 0), (2, 2), (2, 2), (4, 4), (5, 5)]


def test_progress_disabled_still_accounts():
    with Progress(3, disable=True) as progress:
        progress.advance(1)
    assert progress.done == 2 and progress.bar.disable


@pytest.mark.parametrize(
    "format, suffix, body, expected",
    [
        ("pandas", "", Response(200, json=ROWS), pd.DataFrame.from_records(ROWS["query_result"])),
        ("csv", ".csv", Response(200, text="pcod,value\r\nA,16\r\n"), "pcod,value\r\nA,16\r\n"),
        ("geojson", ".geojson", Response(200, json=COLLECTION), COLLECTION),
    ],
)
def test_get_result_waits_then_fetches_in_the_format(format, suffix, body, expected):
    effects, result = drive(protocol.get_result(QID, format, disable_progress=True), [ready(), body])
    assert effects == [Request("GET", f"poll/{QID}"), Request("GET", f"get/{QID}{suffix}")]
    if format == "pandas":
        pd.testing.assert_frame_equal(result, expected)
    else:
        assert result == expected


def test_an_unknown_format_fails_before_any_request():
    with pytest.raises(ValueError, match="parquet"):
        drive(protocol.query_result(SPEC, QID, "parquet"), [])


def test_query_result_runs_a_query_never_run():
    replies = [accepted(), ready(), Response(200, json=ROWS)]
    effects, (query_id, frame) = drive(protocol.query_result(SPEC, None, disable_progress=True), replies)
    assert [e.path for e in effects] == ["run", f"poll/{QID}", f"get/{QID}"] and query_id == QID and len(frame) == 2


@pytest.mark.parametrize("forgotten_at", ["poll", "get"])
def test_query_result_reruns_a_query_the_server_forgot(forgotten_at):
    before = [Response(404)] if forgotten_at == "poll" else [ready(), Response(404, json={"msg": "known, not run"})]
    replies = [*before, accepted("new"), ready("new"), Response(200, json=ROWS)]
    effects, (query_id, _) = drive(protocol.query_result(SPEC, "old", disable_progress=True), replies)
    assert [e.path for e in effects][len(before) :] == ["run", "poll/new", "get/new"] and query_id == "new"
    assert effects[len(before)] == Request("POST", "run", json=SPEC)


def test_query_result_does_not_rerun_on_other_errors():
    with pytest.raises(AuthorizationError):
        drive(protocol.query_result(SPEC, QID), [Response(403, json={"msg": "no"})])


def test_geography():
    effects, result = drive(protocol.get_geography("admin3"), [Response(200, json=COLLECTION)])
    assert effects == [Request("GET", "geography/admin3")] and result == COLLECTION


@pytest.mark.parametrize("event_types, kinds", [(None, {"calls", "sms"}), (["sms", "mds"], {"sms"})])
def test_available_dates_optionally_filtered(event_types, kinds):
    dates = {"calls": ["2016-01-01"], "sms": ["2016-01-01", "2016-01-02"]}
    effects, result = drive(protocol.get_available_dates(event_types), [Response(200, json={"available_dates": dates})])
    assert effects == [Request("GET", "available_dates")] and result == {k: dates[k] for k in kinds}


# -- connection settings (no request is sent) ------------------------------------------------------


def token(**claims):
    return jwt.encode(claims, "a test secret of at least 32 bytes", algorithm="HS256")


def test_connection_names_the_tokens_user_and_sends_it():
    with Connection(url="https://flowapi.example/", token=token(sub="alice"), api_version=1) as conn:
        assert conn.user == "alice" and repr(conn) == "alice@https://flowapi.example v1"
        assert str(conn.client.base_url) == "https://flowapi.example/api/1/"
        conn.update_token(token(sub="bob"))
        assert conn.user == "bob" and conn.client.headers["Authorization"] == f"Bearer {conn.token}"


@pytest.mark.parametrize("bad, match", [("not a jwt", "decode"), (token(name="alice"), "sub")])
def test_a_token_without_a_user_is_refused(bad, match):
    with pytest.raises(TokenError, match=match):
        Connection(url="https://flowapi.example", token=bad)


def test_an_unreachable_server_is_connection_failed():
    with Connection(url="https://127.0.0.1:1", token=token(sub="alice")) as conn:
        with pytest.raises(ConnectionFailed, match="Unable to connect"):
            conn.perform(protocol.get_status(QID))
