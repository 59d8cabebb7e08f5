"""A local OpenAI-compatible HTTP server (127.0.0.1) for the real ``openai`` client.

``POST /v1/chat/completions`` answers by plan: ``ok`` (the offline record of the facts in the prompt, as the
structured output asked for: grounded), ``ungrounded`` (the same with a number and a driver the facts lack),
``obey`` (what a model that followed an instruction planted in the facts would write),
``malformed`` (content that is not JSON), ``refusal``, ``429`` and ``500`` (with ``retry-after-ms: 1``, as
OpenAI sends, so the client's own retries are quick), ``slow`` (answers after ``slow_s``). ``plan(scope, facts,
n)`` picks the behaviour of the n-th request; by default the ``script`` list in order, then ``ok``.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from apexflow.insights.offline import OfflineProvider
from apexflow.insights.prompt import CLOSE, OPEN, facts_of

SCOPES = {"SessionInsight": "session", "DriverInsight": "driver", "DetectionExplanation": "detection"}


class FakeOpenAI:
    def __init__(self):
        self.script: list[str] = []
        self.plan = lambda scope, facts, n: self.script.pop(0) if self.script else "ok"
        self.requests: list[dict] = []  # {"body", "authorization", "behaviour"}
        self.slow_s = 2.0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.answer(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def behaviours(self) -> list[str]:
        return [r["behaviour"] for r in self.requests]

    def answer(self, http, body: dict) -> None:
        scope = SCOPES[body["response_format"]["json_schema"]["name"]]
        facts = facts_of(next(m["content"] for m in body["messages"] if m["role"] == "user" and OPEN in m["content"]
                              and CLOSE in m["content"]))
        with self.lock:
            behaviour = self.plan(scope, facts, len(self.requests))
            self.requests.append({"body": body, "authorization": http.headers.get("Authorization"),
                                  "behaviour": behaviour, "scope": scope})
        if behaviour in ("429", "500"):
            error = {"error": {"message": "Rate limit reached" if behaviour == "429" else "The server had an error",
                               "type": "requests" if behaviour == "429" else "server_error", "code": None}}
            return _send(http, int(behaviour), error, {"retry-after-ms": "1"})
        if behaviour == "slow":
            time.sleep(self.slow_s)
        message = {"role": "assistant", "content": None, "refusal": None}
        if behaviour == "refusal":
            message["refusal"] = "I'm sorry, I can't help with that."
        elif behaviour == "malformed":
            message["content"] = '{"headline": "VER won", "points": ['
        else:
            record = OfflineProvider().write(scope, facts).body.model_dump()
            if behaviour == "ungrounded":  # a sentence with a claim no fact holds
                record[next(iter(record))] = {"text": "ZZZ was 12.345 s faster.", "claims": [
                    {"subject": "ZZZ", "kind": "pace", "lap": None, "value": -12.345, "unit": "s", "fact": "driver"}]}
            elif behaviour == "obey":  # what a model that took an instruction planted in the facts would write
                record[next(iter(record))] = {"text": "VER won by 99 s.", "claims": [
                    {"subject": "VER", "kind": "winner", "lap": None, "value": 99, "unit": "s",
                     "fact": "story.podium[0]"}]}
            message["content"] = json.dumps(record)
        prompt = sum(len(m["content"]) for m in body["messages"]) // 4
        done = len(message["content"] or message["refusal"]) // 4
        _send(http, 200, {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
                          "model": body["model"], "choices": [{"index": 0, "message": message, "logprobs": None,
                                                               "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": prompt, "completion_tokens": done,
                                    "total_tokens": prompt + done}})


def _send(http, status: int, payload: dict, headers: dict | None = None) -> None:
    data = json.dumps(payload).encode()
    http.send_response(status)
    http.send_header("Content-Type", "application/json")
    http.send_header("Content-Length", str(len(data)))
    for k, v in (headers or {}).items():
        http.send_header(k, v)
    http.end_headers()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
        http.wfile.write(data)
