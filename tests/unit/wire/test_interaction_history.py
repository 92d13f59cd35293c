"""A conversation of steps replayed as contents: sides merged, results paired, files decoded."""

from __future__ import annotations

import base64
import re

import pytest
from google.genai import types

from codeloop.errors import InvalidRequest
from codeloop.wire.interactions.history import contents_of, file_parts
from codeloop.wire.interactions.request import input_steps


def steps(*raw: dict):
    return input_steps(list(raw))


USER = {"type": "user_input", "content": [{"type": "text", "text": "Sum it"}]}
CALL = {"type": "code_execution_call", "id": "c1", "arguments": {"code": "print(3)"}}
RESULT = {"type": "code_execution_result", "call_id": "c1", "result": "3\n"}
ANSWER = {"type": "model_output", "content": [{"type": "text", "text": "It is 3."}]}


def test_one_turn_of_code_is_one_model_content() -> None:
    user, model = contents_of(steps(USER, {"type": "thought", "signature": "c2ln"}, CALL, RESULT, ANSWER))
    assert user.role == "user" and user.parts[0].text == "Sum it"
    assert model.role == "model"
    code, result, answer = model.parts
    assert code.executable_code.code == "print(3)" and code.executable_code.language == types.Language.PYTHON
    assert result.code_execution_result.outcome == types.Outcome.OUTCOME_OK
    assert result.code_execution_result.output == "3\n"
    assert answer.text == "It is 3."


def test_an_error_result_is_a_failed_outcome_and_files_in_it_are_not_replayed() -> None:
    failed = {
        "type": "code_execution_result",
        "call_id": "c1",
        "is_error": True,
        "result": [
            {"type": "text", "text": "Boom"},
            {"type": "image", "data": "aGk=", "mime_type": "image/png"},
        ],
    }
    (_, model) = contents_of(steps(USER, CALL, failed))
    result = model.parts[1].code_execution_result
    assert (result.outcome, result.output) == (types.Outcome.OUTCOME_FAILED, "Boom")


def test_a_function_result_finds_its_call_by_id() -> None:
    call = {"type": "function_call", "id": "f1", "name": "weather", "arguments": {"city": "Oslo"}}
    answer = {"type": "function_result", "call_id": "f1", "result": "Snow"}
    _, model, results = contents_of(steps(USER, call, answer))
    assert model.parts[0].function_call == types.FunctionCall(id="f1", name="weather", args={"city": "Oslo"})
    response = results.parts[0].function_response
    assert (results.role, response.name, response.response) == ("user", "weather", {"result": "Snow"})
    with pytest.raises(InvalidRequest, match="answers no function_call"):
        contents_of(steps(USER, {**answer, "call_id": "other"}))
    named = contents_of(steps({**answer, "call_id": "other", "name": "weather", "result": {"c": -3}}))
    assert named[0].parts[0].function_response.response == {"c": -3}


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_files_are_decoded_from_either_base64(encode) -> None:
    data = bytes(range(256))
    image = {"type": "image", "data": encode(data).decode(), "mime_type": "image/png"}
    (user,) = contents_of(input_steps([image, {"type": "text", "text": "What is it?"}]))
    assert user.parts[0].inline_data == types.Blob(mime_type="image/png", data=data)
    assert file_parts(input_steps([image, image])) == 2


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "image", "data": "not base64!"}, "mime_type"),
        ({"type": "image", "data": "not base64!", "mime_type": "image/png"}, "not base64"),
        ({"type": "document", "mime_type": "text/csv"}, "data (base64) or a uri"),
    ],
)
def test_bad_files_are_refused(item: dict, message: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(message)):
        contents_of(input_steps(item))


def test_a_uri_is_a_file_reference() -> None:
    (user,) = contents_of(input_steps({"type": "document", "uri": "files/abc", "mime_type": "text/csv"}))
    assert user.parts[0].file_data == types.FileData(file_uri="files/abc", mime_type="text/csv")
