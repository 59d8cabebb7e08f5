"""The OpenAI provider: the ``openai`` SDK, structured outputs parsed with pydantic, explicit timeouts.

The client retries 429s and 5xx itself (``max_retries``, honouring ``Retry-After``); what still fails is
raised as a ``provider`` error the state machine retries with backoff, and finally replaces by the offline
record. Malformed output and refusals come back as a ``Reply`` with a problem, for the writer to retry once.
A reasoning model (o-series, gpt-5 family) gets ``reasoning_effort`` and an output budget with room for its
reasoning on top of the answer (``prompt.output_budget``).
"""
from __future__ import annotations

import openai
import pydantic

from apexflow.errors import ProviderRejected, ProviderThrottled, ProviderTimeout, ProviderUnavailable
from apexflow.insights.pricing import DEFAULT_MODEL
from apexflow.insights.prompt import REASONING_EFFORT, messages, output_budget, reasoning
from apexflow.insights.provider import Reply
from apexflow.insights.schema import SCHEMAS


class OpenAIProvider:
    name = "openai"

    def __init__(self, api_key: str | None, model: str = DEFAULT_MODEL, base_url: str | None = None,
                 timeout_s: float = 30.0, max_retries: int = 2):
        self.model = model
        self.client = openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=max_retries,
                                    timeout=openai.Timeout(timeout_s, connect=min(5.0, timeout_s)))

    def write(self, scope: str, facts: dict, feedback: str | None = None) -> Reply:
        try:
            completion = self.client.chat.completions.parse(
                model=self.model, messages=messages(scope, facts, feedback),  # type: ignore[arg-type]  # plain dicts
                response_format=SCHEMAS[scope], max_completion_tokens=output_budget(scope, self.model),
                **({"reasoning_effort": REASONING_EFFORT} if reasoning(self.model) else {}))  # type: ignore[arg-type]
        except openai.RateLimitError as e:
            raise ProviderThrottled(self._say(e)) from None
        except openai.APITimeoutError as e:
            raise ProviderTimeout(self._say(e)) from None
        except (openai.InternalServerError, openai.APIConnectionError) as e:
            raise ProviderUnavailable(self._say(e)) from None
        except openai.APIStatusError as e:
            if e.status_code >= 500:
                raise ProviderUnavailable(self._say(e)) from None
            raise ProviderRejected(self._say(e)) from None
        except openai.LengthFinishReasonError as e:
            return Reply(problem="the answer was cut off at the output limit", **_usage(e.completion))
        except openai.ContentFilterFinishReasonError as e:
            return Reply(refusal="stopped by the content filter", **_usage(getattr(e, "completion", None)))
        except (pydantic.ValidationError, ValueError) as e:  # content that is not the schema's JSON
            return Reply(problem=f"malformed output ({type(e).__name__}: {str(e)[:200]})", tokens_in=None,
                         tokens_out=None)
        message = completion.choices[0].message
        usage = _usage(completion)
        if message.refusal:
            return Reply(refusal=message.refusal, **usage)
        if message.parsed is None:
            return Reply(problem="no structured output in the answer", **usage)
        return Reply(message.parsed, **usage)

    def _say(self, e: Exception) -> str:
        """The error, never with the key in it."""
        # the client's key: the one given, else the one OpenAI read from OPENAI_API_KEY
        return f"{type(e).__name__}: {e}".replace(self.client.api_key, "***")[:500]


def _usage(completion) -> dict:
    usage = getattr(completion, "usage", None)
    return {"tokens_in": getattr(usage, "prompt_tokens", 0) or 0,
            "tokens_out": getattr(usage, "completion_tokens", 0) or 0}
