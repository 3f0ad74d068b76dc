"""A submit whose payload is wrong is refused over HTTP with the CLI's own one line: every
missing, unknown and wrong field of the payload named at once."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from server_support import serving

from jobledger.cli.main import cli


@pytest.mark.parametrize(
    "payload",
    [
        '{"emailSetting": 5, "bogus": 1}',
        '{"emailSetting": "All", "bogus": 1, "other": 2}',
        "5",
        '{"emailSetting": ["All"]}',
    ],
)
def test_a_wrong_payload_gets_the_clis_message(sqlite_db: str, tmp_path: object, payload: str) -> None:
    local = CliRunner().invoke(
        cli,
        [
            *("--db", f"{tmp_path}/local.db", "submit", "--company", "acme", "--name", "n"),
            *("--type", "optimizeImagesJob", "--payload", payload),
        ],
    )
    assert local.exit_code != 0
    cli_message = local.output.strip().splitlines()[-1].removeprefix("Error: ")
    body = f'{{"companyHandle": "acme", "jobName": "n", "optimizeImagesJob": {payload}}}'
    with serving(sqlite_db) as served:
        status, answer = served.call("POST", "/v1/jobs", raw=body.encode())
        _, events = served.call("GET", "/v1/events")
    assert (status, answer["error"]["code"]) == (400, "invalid_payload")
    # The CLI adds the command to run (cli/hints.py); the API leaves it out.
    assert answer["error"]["message"] == cli_message.partition("; `jobledger kinds`")[0], local.output
    assert events == ""  # nothing appended


def test_a_wrong_field_is_named_in_the_ledgers_words(sqlite_db: str) -> None:
    with serving(sqlite_db) as served:
        _, created = served.call(
            "POST",
            "/v1/jobs",
            {"companyHandle": "acme", "jobName": "n", "optimizeImagesJob": {"emailSetting": "All"}},
        )
        path = f"/v1/jobs/{created['jobHandle'].replace('|', '%7C')}/progress"
        status, answer = served.call("POST", path, {"progress": 50.5})
    assert (status, answer["error"]["code"]) == (400, "invalid_body")
    assert answer["error"]["message"] == "invalid body: progress: expected int, got float"


DEEP = "[" * 1200 + "]" * 1200  # past the decoder's own limit
JUST_TOO_DEEP = "[" * 32 + "]" * 32  # in a crop object: past MAX_NESTING


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            '{"companyHandle": "acme", "jobName": "n", "optimizeImagesJob": {"emailSetting": "All", "x": '
            + DEEP
            + "}}",
            "invalid_json",
            "JSON is malformed: nested too deeply to read",
        ),
        (
            '{"companyHandle": "acme", "jobName": "n", "uploadUrlsJob": {"overwrite": true,'
            ' "readyForPublish": true, "createMask": false, "emailSetting": "All",'
            ' "manualCropOptions": {"a": ' + JUST_TOO_DEEP + "}}}",
            "invalid_payload",
            "invalid uploadUrlsJob payload: nested more than 32 levels deep",
        ),
    ],
)
def test_json_nested_too_deep_is_refused_and_the_events_stay_readable(
    sqlite_db: str, body: str, code: str, message: str
) -> None:
    # Once accepted, options nested 969 deep could not be encoded again: /v1/events and the
    # run's history failed for good at that event.
    with serving(sqlite_db) as served:
        status, answer = served.call("POST", "/v1/jobs", raw=body.encode())
        batch = '{"commands": [{"action": "submit", "body": ' + body + "}]}"
        batch_status, batch_answer = served.call("POST", "/v1/batch", raw=batch.encode())
        valid = {"companyHandle": "acme", "jobName": "n", "optimizeImagesJob": {"emailSetting": "All"}}
        ok, created = served.call("POST", "/v1/jobs", valid)
        events_status, events = served.call("GET", "/v1/events")
    assert (status, answer["error"]["code"], answer["error"]["message"]) == (400, code, message)
    assert (batch_status, batch_answer["error"]["code"]) == (400, code), batch_answer
    assert batch_answer["error"]["message"].endswith(message.partition(": ")[2])
    assert ok == 201, created
    assert events_status == 200
    assert [json.loads(line)["position"] for line in events.splitlines()] == [created["position"]]
