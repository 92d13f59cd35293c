from __future__ import annotations

import json

import pytest
from google.genai import types

from codeloop.errors import InvalidRequest
from codeloop.wire.request import parse_generate_request


def test_single_objects_where_lists_belong() -> None:
    request = parse_generate_request(
        b'{"contents": {"parts": {"text": "hi"}}, "tools": {"codeExecution": {}}}'
    )
    assert request.contents == [types.Content(parts=[types.Part(text="hi")])]
    assert request.code_execution


def test_snake_and_camel_case() -> None:
    body = """{
      "contents": [{"role": "model", "parts": [
        {"executable_code": {"language": "PYTHON", "code": "print(1)"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}},
        {"inline_data": {"mime_type": "image/png", "data": "iVBORw=="}}]},
        {"role": "user", "parts": {"text": "more"}}],
      "system_instruction": {"parts": {"text": "be brief"}},
      "generation_config": {"max_output_tokens": 5, "stopSequences": "END", "top_k": 3},
      "tools": [{"code_execution": {}}]
    }"""
    request = parse_generate_request(body)
    parts = request.contents[0].parts
    assert parts[0].executable_code.code == "print(1)"
    assert parts[1].code_execution_result.outcome == types.Outcome.OUTCOME_OK
    assert parts[2].inline_data.data == b"\x89PNG"
    assert request.system_instruction.parts[0].text == "be brief"
    assert request.config.max_output_tokens == 5
    assert request.config.stop_sequences == ["END"]
    assert request.code_execution


def test_functions_are_built_once_as_the_body_is_validated() -> None:
    request = parse_generate_request(
        '{"contents": {"parts": {"text": "hi"}}, "tools": {"functionDeclarations": {"name": "now"}},'
        ' "toolConfig": {"functionCallingConfig": {"mode": "ANY"}}}'
    )
    functions = request.functions
    assert functions is not None and functions.must_call
    assert [d.name for d in functions.declarations] == ["now"]
    assert request.functions is functions


def test_no_tools_means_no_code_execution() -> None:
    assert not parse_generate_request('{"contents": {"parts": {"text": "hi"}}}').code_execution


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"contents": {"parts": {"text": "hi", "bogus": 1}}}',
            "Unknown name \"bogus\" at 'contents[0].parts[0]'",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "tools": {"googleSearch": {}}}',
            "google_search is not supported",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "tools": {"functionDeclarations": [{"name": "f"}, '
            '{"name": "f"}]}}',
            "function names must be unique",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "tools": {"functionDeclarations": {"name": "f"}}, '
            '"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}}}',
            "not declared: g",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "tools": {"functionDeclarations": {"name": "f"}}, '
            '"toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["nope"]}}}',
            "allowed_function_names: not declared: nope",
        ),
        (
            '{"contents": {"parts": [{"inlineData": {"mimeType": "text/plain", "data": "MQ==", '
            + '"displayName": "'
            + "n" * 256
            + '"}}, {"text": "hi"}]}}',
            "inlineData.displayName: at most 255 characters",
        ),
        (
            '{"contents": {"parts": [{"fileData": {"fileUri": "files/x", "displayName": "'
            + "n" * 256
            + '"}}, {"text": "hi"}]}}',
            "fileData.displayName: at most 255 characters",
        ),
        (
            '{"contents": {"parts": [{"inlineData": {"data": "MQ=="}}, {"text": "hi"}]}}',
            "inlineData.mimeType: a file needs its mime type",
        ),
        (
            '{"contents": {"parts": [{"fileData": {"mimeType": "text/plain"}}, {"text": "hi"}]}}',
            "fileData.fileUri: required",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "tools": {"functionDeclarations": {"name": "f"}}, '
            '"toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}}',
            "only allowed with mode ANY",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "generationConfig": {"maxOutputTokens": 0}}',
            "max_output_tokens",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "cachedContent": "cachedContents/abc"}',
            "cached_content: this server keeps no context caches",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "continuationToken": "dG9rZW4="}',
            "continuation_token: this server never stops a response with CONTINUATION",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, '
            '"generationConfig": {"responseModalities": ["TEXT", "IMAGE"]}}',
            "response_modalities: this server's models answer in TEXT only, not IMAGE",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "generationConfig": {"responseFormat": {"audio": {}}}}',
            "response_format[0]: this server's models answer in text only",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, "generationConfig": {"responseFormat": '
            '{"text": {"mimeType": "application/json"}}}}',
            "response_format[0].text: only text/plain",
        ),
        (
            '{"contents": {"parts": {"text": "hi"}}, '
            '"generationConfig": {"responseLogprobs": true, "logprobs": 21}}',
            "logprobs: must be between 0 and 20",
        ),
        ('{"contents": {"parts": {"thought": false}}}', "required oneof field 'data'"),
        ('{"contents": {"parts": {"partMetadata": {"a": 1}}}}', "required oneof field 'data'"),
    ],
)
def test_rejects_what_it_cannot_honour(body: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_generate_request(body)


def test_a_thought_needs_no_data_and_a_signature_may_sit_on_any_part() -> None:
    request = parse_generate_request(
        """{"contents": [{"role": "model", "parts": [
          {"thought": true, "thoughtSignature": "c2ln"},
          {"thoughtSignature": "c2ln"},
          {"text": "a", "thoughtSignature": "c2ln"},
          {"functionCall": {"id": "c1", "name": "f", "args": {}}, "thoughtSignature": "c2ln"},
          {"executableCode": {"id": "b1", "code": "print(1)"}, "thoughtSignature": "c2ln"},
          {"codeExecutionResult": {"id": "b1", "outcome": "OUTCOME_OK"}, "thoughtSignature": "c2ln"}]},
          {"role": "user", "parts": {"functionResponse": {"id": "c1", "name": "f", "response": {}}}}]}"""
    )
    parts = request.contents[0].parts
    assert parts[0].thought and parts[0].thought_signature == b"sig"
    assert parts[4].executable_code.id == parts[5].code_execution_result.id == "b1"
    assert request.contents[1].parts[0].function_response.id == "c1"


@pytest.mark.parametrize("data", ["+/+//j4=", "-_-__j4=", "-_-__j4", "+/+//j4"])
def test_inline_data_in_either_base64_alphabet_with_or_without_padding(data: str) -> None:
    part = {"inlineData": {"mimeType": "application/octet-stream", "data": data}}
    request = parse_generate_request(json.dumps({"contents": {"parts": part}}))
    assert request.contents[0].parts[0].inline_data.data == bytes([0xFB, 0xFF, 0xBF, 0xFE, 0x3E])


def test_what_todays_clients_send_beside_the_contents_is_accepted() -> None:
    request = parse_generate_request(
        """{"contents": {"parts": {"text": "hi"}}, "serviceTier": "flex", "store": false,
            "toolConfig": {"includeServerSideToolInvocations": true},
            "modelArmorConfig": {"promptTemplateName": "projects/p/locations/l/templates/t"},
            "generationConfig": {"imageConfig": {"aspectRatio": "1:1"}, "responseModalities": ["TEXT"],
              "responseLogprobs": true, "logprobs": 3, "presencePenalty": 0.5, "frequencyPenalty": 0.5,
              "thinkingConfig": {"includeThoughts": true, "thinkingBudget": 0}}}"""
    )
    assert request.service_tier == "flex" and request.store is False
    assert request.config.logprobs == 3
