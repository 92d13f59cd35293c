from __future__ import annotations

import pytest

from codeloop.backends.base import Chat, Chunk, Message, Sampling
from codeloop.backends.openai_compat import OpenAICompatBackend, _parse_event
from codeloop.errors import BackendUnavailable
from codeloop.logprobs import Candidate, TokenLogprob


@pytest.mark.parametrize(
    ("line", "chunk"),
    [
        ('data: {"choices": [{"delta": {"content": "Hi"}, "finish_reason": null}]}', Chunk("Hi")),
        ('data: {"choices": [{"delta": {}, "finish_reason": "length"}]}', Chunk("", "MAX_TOKENS")),
        ('data: {"choices": [{"delta": {"content": "."}, "finish_reason": "stop"}]}', Chunk(".", "STOP")),
        ("data: [DONE]", Chunk("", "STOP")),
        ('data: {"choices": [], "usage": {"prompt_tokens": 3}}', None),
        (": keep-alive", None),
        ("", None),
    ],
)
def test_events(line: str, chunk: Chunk | None) -> None:
    assert _parse_event(line) == chunk


def test_garbage_is_a_backend_error() -> None:
    with pytest.raises(BackendUnavailable, match="unreadable"):
        _parse_event("data: {not json")


def test_log_probabilities_come_with_their_tokens() -> None:
    line = (
        'data: {"choices": [{"delta": {"content": "Hi"}, "finish_reason": null, "logprobs": {"content": ['
        '{"token": "Hi", "logprob": -0.25, "top_logprobs": [{"token": "Hi", "logprob": -0.25}, '
        '{"token": "Yo", "logprob": -2}, {"token": "bad"}]}]}}]}'
    )
    hi = Candidate("Hi", -0.25)
    assert _parse_event(line) == Chunk("Hi", logprobs=(TokenLogprob(hi, (hi, Candidate("Yo", -2.0))),))


@pytest.mark.parametrize(
    "logprobs",
    [
        '"nonsense"',
        '{"content": "nonsense"}',
        '{"content": [{"token": 1, "logprob": -1}]}',
        '{"content": [{"token": "x", "logprob": true}]}',
        '{"content": [{"token": "x", "logprob": -Infinity}]}',
        '{"content": [{"token": "x", "logprob": NaN}]}',
    ],
)
def test_log_probabilities_of_a_shape_no_one_could_render_are_left_out(logprobs: str) -> None:
    line = f'data: {{"choices": [{{"delta": {{"content": "x"}}, "logprobs": {logprobs}}}]}}'
    assert _parse_event(line) == Chunk("x")


def test_the_request_asks_for_what_the_sampling_asks_for() -> None:
    backend = OpenAICompatBackend("m", "http://upstream.invalid")
    sampling = Sampling(presence_penalty=0.5, frequency_penalty=-0.5, logprobs=3)
    body = backend._request(Chat((Message("user", "hi"),), sampling=sampling))
    assert body["presence_penalty"] == 0.5 and body["frequency_penalty"] == -0.5
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    plain = backend._request(Chat((Message("user", "hi"),)))
    assert not {"logprobs", "top_logprobs", "presence_penalty", "frequency_penalty"} & plain.keys()
