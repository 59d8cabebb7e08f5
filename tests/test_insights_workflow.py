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
from apexflow_aws.local import workflow
from apexflow_aws.local.stack import local_stack
from infra import names

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
        topic = client("sns").create_topic(Name=workflow.TOPIC)["TopicArn"]
        local = {"InsightsFunction": workflow.function_arn(), "InsightsAlerts": topic}
        resolved = {name: next(v for prefix, v in local.items()
                               if (ref.get("Ref") or ref["Fn::GetAtt"][0]).startswith(prefix))
                    for name, ref in props["DefinitionSubstitutions"].items()}
        arn = client("stepfunctions").create_state_machine(
            name="apexflow-insights-synthesized", roleArn=workflow.ROLE,
            definition=workflow.substitute(definition, resolved))["stateMachineArn"]
        yield arn, topic


def alerts(topic: str) -> list[str]:
    from moto.sns.models import sns_backends

    sent = sns_backends[workflow.ACCOUNT][workflow.REGION].topics[topic].sent_notifications
    return [attrs["detection_id"]["Value"] for _, _, _, attrs, _ in sent if attrs]


def stored(dsn: str, run_id: str) -> list[dict]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        return insight_runs.run_insights(cur, run_id)


def test_local_mode_runs_the_file_cdk_deploys_with_its_substitutions(synthesized):
    props, definition = synthesized
    assert definition == workflow.DEFINITION.read_text() == (names.REPO_ROOT / names.STATE_MACHINE_FILE).read_text()
    assert set(props["DefinitionSubstitutions"]) == {"InsightsFunctionArn", "AlertsTopicArn"}
    with pytest.raises(ValueError, match="AlertsTopicArn"):
        workflow.substitute(definition, {"InsightsFunctionArn": "arn"})


def test_every_driver_the_session_and_each_critical_detection_stored_and_alerted_once(machine, dsn):
    arn, topic = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    first = workflow.run(arn, session_id)
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
    second = workflow.run(arn, session_id)  # a second run replaces the insights, alerts nothing again
    assert second["status"] == "SUCCEEDED" and sorted(alerts(topic)) == sorted(critical)
    assert len(stored(dsn, second["output"]["run_id"])) == len(insights) and stored(dsn, summary["run_id"]) == []


@pytest.mark.parametrize("machine", ["openai"], indirect=True)
def test_openai_summaries_through_the_workflow_and_a_task_failing_every_retry_ends_in_a_fallback(
        machine, dsn, fake_openai, caplog):
    arn, topic = machine
    session_id = register_race(dsn, extra_detections=[CONTACT])
    fake_openai.plan = lambda scope, facts, n: "500" if scope == "session" else "ok"
    done = workflow.run(arn, session_id, drivers=["NOR", "PIA"])
    assert done["status"] == "SUCCEEDED", done["events"][-1]
    insights = {(i["scope"], i["entity_id"]): i for i in stored(dsn, done["output"]["run_id"])}
    assert set(insights) == {("session", None), ("driver", "NOR"), ("driver", "PIA"), ("detection", "NOR")}
    assert all(i["provider"] == "openai" and i["status"] == "ok" and i["tokens_in"] > 0
               for k, i in insights.items() if k[0] != "session")
    fallback = insights[("session", None)]
    assert (fallback["status"], fallback["provider"]) == ("fallback", "offline")
    assert fallback["note"].startswith("ProviderUnavailable") and "Winner: " in fallback["content"]
    failed = [e for e in done["events"] if e["type"] == "TaskFailed"
              and "ProviderUnavailable" in e["taskFailedEventDetails"]["error"]]
    assert len(failed) == 4  # the first try and three retries, with backoff and jitter
    assert [r["scope"] for r in fake_openai.requests].count("session") == 12  # each with the client's 2 retries
    assert alerts(topic) == [CONTACT["detection_id"]]
    history = json.dumps(done["events"], default=str) + json.dumps(stored(dsn, done["output"]["run_id"]), default=str)
    assert KEY not in history and KEY not in caplog.text and KEY not in json.dumps(done["output"])
    assert all(r["authorization"] == f"Bearer {KEY}" for r in fake_openai.requests)


def test_complete_analysis_starts_the_workflow_once_and_a_session_without_a_chunk_count_never(dsn):
    from apexflow_aws.local.ingest_cli import invoke_ingest
    from apexflow_aws.local.stack import analyze_stream
    from apexflow_aws.workflow import start_when_complete

    with local_stack(dsn=dsn):
        arn = os.environ["INSIGHTS_STATE_MACHINE_ARN"]
        result = invoke_ingest({"source": "synthetic", "seed": 4, "laps": 2})
        conn = psycopg2.connect(dsn)
        assert start_when_complete(conn, [result["session_id"]]) == []  # registered, nothing analyzed yet
        analyze_stream(result["chunks"])
        (started,) = client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]
        assert started["name"] == f"{result['session_id']}-auto-{result['run_id']}"
        assert start_when_complete(conn, [result["session_id"]]) == [started["executionArn"]]  # the same one
        done = workflow.automatic(arn, result["session_id"], result["run_id"])
        assert done["status"] == "SUCCEEDED" and done["output"]["insights"] >= 21
        untold = register_race(dsn, seed=8, laps=3)  # no chunk count: like a live feed still running
        assert start_when_complete(conn, [untold]) == []
        conn.close()
        assert len(client("stepfunctions").list_executions(stateMachineArn=arn)["executions"]) == 1


def test_insights_command_prints_the_race_story_first_and_says_what_is_wrong(dsn, monkeypatch, capsys):
    from apexflow_aws.cli import main

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
    first = workflow.run(arn, session_id)
    assert first["status"] == "SUCCEEDED", first["events"][-1]
    released = [e for e in first["events"] if e["type"] == "TaskStateEntered"
                and e["stateEnteredEventDetails"]["name"] == "ReleaseAlert"]
    assert released and len(stored(dsn, first["output"]["run_id"])) == first["output"]["insights"]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM alerts WHERE session_id = %s", (session_id,))
        assert cur.fetchone() == (0,)  # nothing claimed: no alert is recorded as sent
    assert client("sns").create_topic(Name=workflow.TOPIC)["TopicArn"] == topic
    second = workflow.run(arn, session_id)
    assert second["status"] == "SUCCEEDED" and CONTACT["detection_id"] in alerts(topic)
