"""The OpenAI path with the real ``openai`` client against a local fake server, on real PostgreSQL: success,
rate limits, server errors, timeouts, malformed output, refusals, ungrounded answers, the token budget."""
from __future__ import annotations

import psycopg2
import pytest
from conftest import register_race

from apexflow.detect.base import Detection
from apexflow.errors import ProviderTimeout, ProviderUnavailable
from apexflow.insights import tasks
from apexflow.insights.openai_provider import OpenAIProvider
from apexflow.insights.pricing import DEFAULT_TOKEN_BUDGET
from apexflow.query import insight_runs

KEY = "sk-test-0123456789abcdef"
POWER_LOSS = Detection("", "HAM", "power_loss", "critical", 0.9, 300.0, 330.0, "power", "1", channel="Speed", lap=4,
                       evidence={"drop_pct": 4.2, "halves": 2}).to_row()


@pytest.fixture
def conn(dsn):
    register_race(dsn, extra_detections=[POWER_LOSS])
    c = psycopg2.connect(dsn)
    yield c
    c.close()


def start(conn, budget=DEFAULT_TOKEN_BUDGET):
    return tasks.start(conn, "sim-s7-l6", "openai", "gpt-4.1-mini", token_budget=budget)


def providers(fake, **options):
    made = OpenAIProvider(KEY, base_url=fake.base_url, **options)
    return lambda name, model: made


def stored(conn, run_id, scope="driver"):
    with conn.cursor() as cur:
        rows = [i for i in insight_runs.run_insights(cur, run_id) if i["scope"] == scope]
        used = insight_runs.insight_run(cur, run_id)["tokens_used"]
    conn.rollback()
    return rows[0], used


def test_success_is_a_grounded_structured_answer_with_its_tokens_and_cost(conn, fake_openai):
    run = start(conn)
    out = tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")
    insight, used = stored(conn, run["run_id"])
    assert out["status"] == insight["status"] == "ok" and insight["provider"] == "openai"
    assert insight["entity_id"] == "HAM" and insight["content"].startswith("HAM (")
    assert insight["tokens_in"] > 100 and insight["tokens_out"] > 20 and insight["cost_usd"] > 0
    assert used == insight["tokens_in"] + insight["tokens_out"]  # the reservation settled to the usage
    (request,) = fake_openai.requests
    assert request["authorization"] == f"Bearer {KEY}"
    fmt = request["body"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert request["body"]["model"] == "gpt-4.1-mini" and request["body"]["max_completion_tokens"] == 400


def test_a_rate_limit_then_success_is_retried_by_the_client(conn, fake_openai):
    fake_openai.script = ["429", "ok"]
    run = start(conn)
    assert tasks.summarize(conn, providers(fake_openai), run["run_id"], "session")["status"] == "ok"
    assert fake_openai.behaviours() == ["429", "ok"]


def test_server_errors_past_the_client_retries_raise_a_retryable_error_without_the_key(conn, fake_openai):
    fake_openai.script = ["500"] * 3
    run = start(conn)
    with pytest.raises(ProviderUnavailable) as raised:
        tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")
    assert fake_openai.behaviours() == ["500"] * 3 and KEY not in str(raised.value)
    with conn.cursor() as cur:
        assert insight_runs.run_insights(cur, run["run_id"]) == [] and insight_runs.insight_run(cur, run["run_id"])[
            "tokens_used"] == 0  # the reservation is given back
    conn.rollback()


def test_no_answer_within_the_timeout_is_a_timeout(conn, fake_openai):
    fake_openai.script, fake_openai.slow_s = ["slow"], 1.5
    run = start(conn)
    with pytest.raises(ProviderTimeout):
        tasks.summarize(conn, providers(fake_openai, timeout_s=0.3, max_retries=0), run["run_id"], "driver", "HAM")


def test_malformed_output_is_retried_once(conn, fake_openai):
    fake_openai.script = ["malformed", "ok"]
    run = start(conn)
    assert tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")["status"] == "ok"
    second = fake_openai.requests[1]["body"]["messages"][-1]["content"]
    assert second.startswith("Your previous answer was rejected: malformed output")


def test_malformed_output_twice_stores_the_offline_record_flagged(conn, fake_openai):
    fake_openai.script = ["malformed", "malformed"]
    run = start(conn)
    tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")
    insight, used = stored(conn, run["run_id"])
    assert (insight["status"], insight["provider"]) == ("fallback", "offline")
    assert insight["note"].startswith("malformed output twice") and used > 0  # spent tokens still count


def test_a_refusal_stores_the_offline_record_with_the_refusal(conn, fake_openai):
    fake_openai.script = ["refusal"]
    run = start(conn)
    tasks.summarize(conn, providers(fake_openai), run["run_id"], "detection", run["critical"][0])
    insight, _ = stored(conn, run["run_id"], "detection")
    assert insight["status"] == "fallback" and "I'm sorry" in insight["note"] and len(fake_openai.requests) == 1
    assert insight["content"].startswith("Power loss (critical) for HAM on lap 4.")


def test_an_ungrounded_number_is_caught_retried_once_then_flagged(conn, fake_openai):
    fake_openai.script = ["ungrounded", "ok"]
    run = start(conn)
    assert tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")["status"] == "ok"
    assert "12.345" in fake_openai.requests[1]["body"]["messages"][-1]["content"]
    fake_openai.script = ["ungrounded", "ungrounded"]
    tasks.summarize(conn, providers(fake_openai), run["run_id"], "driver", "HAM")
    insight, _ = stored(conn, run["run_id"])
    assert insight["status"] == "ungrounded" and insight["ungrounded"] == ["12.345", "ZZZ"]
    assert "ZZZ was 12.345 s faster" in insight["content"]


def test_a_spent_token_budget_falls_back_without_calling(conn, fake_openai):
    run = start(conn, budget=500)
    tasks.summarize(conn, providers(fake_openai), run["run_id"], "session")
    insight, used = stored(conn, run["run_id"], "session")
    assert insight["status"] == "fallback" and "token budget" in insight["note"]
    assert fake_openai.requests == [] and used == 0
