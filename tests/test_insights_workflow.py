"""The state machine CDK synthesises, executed on moto (Map, Parallel, Retry, Catch, SNS) with the real insights
handler and PostgreSQL: every driver summarised, the session summary stored, each critical detection explained
and alerted once, a task failing every retry ending in a stored fallback, the OpenAI key in no history."""
from __future__ import annotations

import json
import os

import psycopg2
import pytest
from conftest import register_race
from test_infra import synth

from apexflow.detect.base import Detection
from apexflow.query import insight_runs
from apexflow_aws.config import client
from apexflow_local import step_functions
from apexflow_local.stack import local_stack
from infra import names

pytestmark = pytest.mark.integration

KEY = "sk-test-workflow-secret-42"
CONTACT = Detection("", "NOR", "contact", "critical", 0.9, 400.0, 401.0, "contact", "1", lap=5,
                    evidence={"cars": ["NOR", "PIA"], "seconds_lost": 7.4, "first_lap": False}).to_row()


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    """What CDK deploys: the state machine's properties and its definition (the template's asset file)."""
    out = synth(tmp_path_factory.mktemp("synth"))
    (props,) = [r["Properties"] for r in out.raw["Resources"].values()
                if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return props, (out.out / f"asset.{props['DefinitionS3Location']['Key']}").read_text()


@pytest.fixture
def machine(synthesized, dsn, monkeypatch, request):
    """The synthesized state machine on moto, its substitutions resolved as CloudFormation resolves them; the
    alerts topic's ARN."""
    props, definition = synthesized
    if getattr(request, "param", None):
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", request.getfixturevalue("fake_openai").base_url)
    with local_stack(dsn=dsn):
        topic = client("sns").create_topic(Name=step_functions.TOPIC)["TopicArn"]
        local = {"InsightsFunction": step_functions.function_arn(), "InsightsAlerts": topic}
        resolved = {name: next(v for prefix, v in local.items()
                               if (ref.get("Ref") or ref["Fn::GetAtt"][0]).startswith(prefix))
                    for name, ref in props["DefinitionSubstitutions"].items()}
        arn = client("stepfunctions").create_state_machine(
            name="apexflow-insights-synthesized", roleArn=step_functions.ROLE,
            definition=step_functions.substitute(definition, resolved))["stateMachineArn"]
        yield arn, topic


def alerts(topic: str) -> list[str]:
    from moto.sns.models import sns_backends

    sent = sns_backends[step_functions.ACCOUNT][step_functions.REGION].topics[topic].sent_notifications
    return [attrs["detection_id"]["Value"] for _, _, _, attrs, _ in sent if attrs]


def stored(dsn: str, run_id: str) -> list[dict]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        return insight_runs.run_insights(cur, run_id)


def test_local_mode_runs_the_file_cdk_deploys_with_its_substitutions(synthesized):
    props, definition = synthesized
    shipped = (names.REPO_ROOT / names.STATE_MACHINE_FILE).read_text()
    assert definition == step_functions.DEFINITION.read_text() == shipped
    assert set(props["DefinitionSubstitutions"]) == {"InsightsFunctionArn", "AlertsTopicArn"}
    with pytest.raises(ValueError, match="AlertsTopicArn"):
        step_functions.substitute(definition, {"InsightsFunctionArn": "arn"})


def test_every_driver_the_session_and_each_critical_detection_stored_and_alerted_once(machine, dsn):
    arn, topic = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    first = step_functions.run(arn, session_id)
    assert first["status"] == "SUCCEEDED", first["events"][-1]
    summary = first["output"]
    insights = stored(dsn, summary["run_id"])
    by_scope = {s: [i for i in insights if i["scope"] == s] for s in ("session", "driver", "detection")}
    assert len(by_scope["driver"]) == 20 and len(by_scope["session"]) == 1
    assert {(i["status"], i["note"], i["provider"]) for i in insights} == {("ok", "", "offline")}
    critical = [i["detection_id"] for i in by_scope["detection"]]
    assert CONTACT["detection_id"] in critical and summary["insights"] == len(insights) == 21 + len(critical)
    assert "\nWinner: " in by_scope["session"][0]["content"]
    assert sorted(alerts(topic)) == sorted(critical)
    second = step_functions.run(arn, session_id)  # a second run replaces the insights, alerts nothing again
    assert second["status"] == "SUCCEEDED" and sorted(alerts(topic)) == sorted(critical)
    assert len(stored(dsn, second["output"]["run_id"])) == len(insights) and stored(dsn, summary["run_id"]) == []


def test_the_api_route_starts_the_deployed_machine_with_the_workflow_starters_input_and_insights_are_stored(
        machine, dsn):
    from apexflow_aws.insights_starter import request
    from apexflow_local.esm import LambdaContext
    from apexflow_local.handlers import load
    from apexflow_local.http_api import api_event

    arn, _ = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INSIGHTS_STATE_MACHINE_ARN", arn)  # the synthesized template's machine, not the local one
        answer = load("api").handler(api_event("POST", f"/sessions/{session_id}/insights"), LambdaContext("api"))
    assert answer["statusCode"] == 202, answer["body"]
    execution = json.loads(answer["body"])["execution_arn"]
    assert execution.startswith(arn.replace(":stateMachine:", ":execution:"))
    done = step_functions.wait(execution)
    assert done["status"] == "SUCCEEDED", done["events"][-1]
    sent = client("stepfunctions").describe_execution(executionArn=execution)["input"]
    assert json.loads(sent) == request(session_id)  # what the workflow module's starter sends, all drivers
    insights = stored(dsn, done["output"]["run_id"])
    assert [i["scope"] for i in insights].count("driver") == 20 and len(insights) == done["output"]["insights"]
    assert {(i["status"], i["provider"]) for i in insights} == {("ok", "offline")}
    assert CONTACT["detection_id"] in {i["detection_id"] for i in insights if i["scope"] == "detection"}


@pytest.mark.parametrize("machine", ["openai"], indirect=True)
def test_openai_summaries_through_the_workflow_and_a_task_failing_every_retry_ends_in_a_fallback(
        machine, dsn, fake_openai, caplog):
    arn, topic = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    fake_openai.plan = lambda scope, facts, n: "500" if scope == "session" else "ok"
    done = step_functions.run(arn, session_id, drivers=["NOR", "PIA"])
    assert done["status"] == "SUCCEEDED", done["events"][-1]
    insights = {(i["scope"], i["entity_id"]): i for i in stored(dsn, done["output"]["run_id"])}
    assert set(insights) == {("session", None), ("driver", "NOR"), ("driver", "PIA"), ("detection", "NOR")}
    assert all(i["provider"] == "openai" and i["status"] == "ok" and i["tokens_in"] > 0
               for k, i in insights.items() if k[0] != "session")
    fallback = insights[("session", None)]
    assert (fallback["status"], fallback["provider"]) == ("fallback", "offline")
    assert fallback["note"].startswith("ProviderUnavailable") and "Winner: " in fallback["content"]
    # the note (which the API returns) is one line: no stack trace, no file of the server
    assert "\n" not in fallback["note"] and "stackTrace" not in fallback["note"] and ".py" not in fallback["note"]
    assert "File " not in fallback["note"] and "/apexflow/" not in fallback["note"]
    failed = [e for e in done["events"] if e["type"] == "TaskFailed"
              and "ProviderUnavailable" in e["taskFailedEventDetails"]["error"]]
    assert len(failed) == 4  # the first try and three retries, with backoff and jitter
    assert [r["scope"] for r in fake_openai.requests].count("session") == 12  # each with the client's 2 retries
    assert alerts(topic) == [CONTACT["detection_id"]]
    history = json.dumps(done["events"], default=str) + json.dumps(stored(dsn, done["output"]["run_id"]), default=str)
    assert KEY not in history and KEY not in caplog.text and KEY not in json.dumps(done["output"])
    assert all(r["authorization"] == f"Bearer {KEY}" for r in fake_openai.requests)


def test_complete_analysis_starts_the_workflow_once_and_a_session_without_a_chunk_count_never(dsn):
    from apexflow_aws.insights_starter import start_when_complete
    from apexflow_local.ingest_cli import invoke_ingest
    from apexflow_local.stack import analyze_stream

    with local_stack(dsn=dsn):
        arn = os.environ["INSIGHTS_STATE_MACHINE_ARN"]
        result = invoke_ingest({"source": "synthetic", "seed": 4, "laps": 2})
        conn = psycopg2.connect(dsn)
        assert start_when_complete(conn, [result["session_id"]]) == []  # registered, nothing analyzed yet
        analyze_stream(result["chunks"])
        (started,) = client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
        assert started["name"] == f"{result['session_id']}-auto-{result['run_id']}"
        assert start_when_complete(conn, [result["session_id"]]) == [started["executionArn"]]  # the same one
        done = step_functions.automatic(arn, result["session_id"], result["run_id"])
        assert done["status"] == "SUCCEEDED" and done["output"]["insights"] >= 21
        untold = register_race(dsn, seed=8, laps=3)  # no chunk count: like a live feed still running
        assert start_when_complete(conn, [untold]) == []
        conn.close()
        assert len(client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]) == 1


def test_insights_command_prints_the_race_story_first_and_says_what_is_wrong(dsn, monkeypatch, capsys):
    from apexflow_local.cli import main

    monkeypatch.setenv("DATABASE_URL", dsn)
    session_id = register_race(dsn)
    assert main(["insights", session_id, "--driver", "nor,PIA"]) == 0
    out = capsys.readouterr().out
    assert out.index("session summary") < out.index("Winner: ") < out.index("drivers") < out.index("NOR (")
    assert "PIA (" in out and "HAM (" not in out and "3 stored (3 ok)" in out
    assert main(["insights", session_id, "--driver", "XYZ"]) == 2
    assert "has no driver XYZ" in capsys.readouterr().err
    assert main(["insights", "no-such-session"]) == 2
    assert "is not stored" in capsys.readouterr().err


def test_an_alert_that_could_not_be_published_is_released_and_sent_by_the_next_run(machine, dsn):
    arn, topic = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    client("sns").delete_topic(TopicArn=topic)  # SNS refuses the publish: the Alert state's Catch releases the claim
    first = step_functions.run(arn, session_id)
    assert first["status"] == "SUCCEEDED", first["events"][-1]
    released = [e for e in first["events"] if e["type"] == "TaskStateEntered"
                and e["stateEnteredEventDetails"]["name"] == "ReleaseAlert"]
    assert released and len(stored(dsn, first["output"]["run_id"])) == first["output"]["insights"]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM alerts WHERE session_id = %s", (session_id,))
        assert cur.fetchone() == (0,)  # nothing claimed: no alert is recorded as sent
    assert client("sns").create_topic(Name=step_functions.TOPIC)["TopicArn"] == topic
    second = step_functions.run(arn, session_id)
    assert second["status"] == "SUCCEEDED" and CONTACT["detection_id"] in alerts(topic)


def test_a_fallback_note_is_one_line_without_the_trace_or_server_paths():
    cause = json.dumps({"errorType": "ProviderUnavailable", "errorMessage": "OpenAI answered 500 for "
                        "https://api.openai.com/v1/chat/completions\nwhile /var/task/apexflow/insights/x.py ran",
                        "stackTrace": ['  File "/var/task/apexflow/insights/openai_provider.py", line 40, in write\n']})
    from apexflow.insights.tasks import reason

    note = reason({"Error": "ProviderUnavailable", "Cause": cause})
    assert note == "ProviderUnavailable: OpenAI answered 500 for https://api.openai.com/v1/chat/completions"
    trace = 'Traceback (most recent call last):\n  File "/opt/app/a.py", line 1\nKeyError: /srv/app/data/x.json'
    assert reason({"Error": "States.TaskFailed", "Cause": trace}) == "States.TaskFailed: KeyError: <path>"


def test_a_session_whose_ingestion_stopped_midway_is_listed_and_summarised_as_incomplete(dsn, capsys):
    """Killed midway: some chunks analyzed, not all. ``apexflow sessions`` says so, and the insights do too."""
    from dataclasses import replace

    from apexflow.query import sessions
    from apexflow_aws.dead_letter import S3DeadLetters
    from apexflow_aws.mapping import ANALYZE
    from apexflow_local.cli import main
    from apexflow_local.esm import EventSourceMapping
    from apexflow_local.handlers import load
    from apexflow_local.ingest_cli import invoke_ingest
    from apexflow_local.stack import FAILED_BUCKET, STREAM

    with local_stack(dsn=dsn):
        result = invoke_ingest({"source": "synthetic", "seed": 5, "laps": 2})
        esm = EventSourceMapping(client("kinesis"), STREAM, load("analyze").handler,
                                 replace(ANALYZE, batch_size=4), on_failure=S3DeadLetters(client("s3"), FAILED_BUCKET))
        esm.poll()  # one round of small batches, then the process "dies"
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            (row,) = sessions.sessions().equal("session_id", result["session_id"]).all(cur)
        assert row["status"] == "incomplete" and 0 < row["chunks_analyzed"] < row["chunks_expected"]
        assert row["chunks_expected"] == result["chunks"]
        capsys.readouterr()
        assert main(["sessions"]) == 0
        told = f"incomplete ({row['chunks_analyzed']} of {result['chunks']} chunks analyzed)"
        assert told in capsys.readouterr().out
        done = step_functions.run(os.environ["INSIGHTS_STATE_MACHINE_ARN"], result["session_id"])
        assert done["status"] == "SUCCEEDED"
        insights = stored(dsn, done["output"]["run_id"])
        assert insights and {i["status"] for i in insights} == {"incomplete"}
        (summary,) = [i for i in insights if i["scope"] == "session"]
        assert summary["content"].startswith(f"Analysis is incomplete: {row['chunks_analyzed']} of "
                                             f"{result['chunks']} chunks analyzed")
        assert done["output"]["statuses"] == {"incomplete": len(insights)}
        esm.drain()  # the rest analyzed: the session reads as analyzed
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            (row,) = sessions.sessions().equal("session_id", result["session_id"]).all(cur)
        assert (row["status"], row["chunks_analyzed"]) == ("analyzed", result["chunks"])


def test_notes_stored_with_a_trace_before_are_cut_by_the_migration(dsn):
    from apexflow.storage.migrate import available

    session_id = register_race(dsn)
    old = ('ProviderUnavailable: {"errorType": "ProviderUnavailable", "errorMessage": "500", "stackTrace": '
           '["  File \\"/var/task/apexflow/insights/openai_provider.py\\", line 40')
    (sql,) = [text for version, _, text in available() if version == 11]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO insight_runs (run_id, session_id, provider, model, facts, token_budget) "
                    "VALUES ('r1', %s, 'openai', 'm', '{}', 1)", (session_id,))
        for key, note in (("a", old), ("b", "the model refused: no")):
            cur.execute("INSERT INTO insights (insight_id, session_id, scope, run_id, provider, model, "
                        "prompt_version, status, note, content, body, facts) VALUES (%s, %s, 'session', 'r1', "
                        "'offline', 'm', 'v', 'fallback', %s, 'x', '{}', '{}')", (key, session_id, note))
        cur.execute(sql.split("-- Fallback notes")[1].split("\n", 2)[2])
        cur.execute("SELECT insight_id, note FROM insights ORDER BY 1")
        assert cur.fetchall() == [("a", "ProviderUnavailable: details in the insights function's log"),
                                  ("b", "the model refused: no")]


def test_a_local_stack_without_insights_deploys_no_state_machine(dsn):
    with local_stack(dsn=dsn, insights=False):
        assert "INSIGHTS_STATE_MACHINE_ARN" not in os.environ
        assert client("stepfunctions").list_state_machines()["stateMachines"] == []
    with local_stack(dsn=dsn):
        (machine,) = client("stepfunctions").list_state_machines()["stateMachines"]
        assert os.environ["INSIGHTS_STATE_MACHINE_ARN"] == machine["stateMachineArn"]
