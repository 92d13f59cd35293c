"""What codeloop does with each field of a generateContent request, by the pinned SDK's type and field.

Each field is honoured, honoured within limits (refused with a 400 beyond them), accepted and ignored
(with the reason it is safe to ignore), refused with a 400 (only where ignoring it would silently change
what the answer means), or never sent (the SDK acts on it itself). tests/conformance/test_sdk_fields.py
sends every field through the SDK and holds the server to this table, and fails on a field the table
lacks, so a new SDK release's new field is decided here before it is served. `markdown()` renders it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Handling(enum.Enum):
    HONOURED = "honoured"
    LIMITED = "honoured within limits"
    IGNORED = "accepted, ignored"
    REFUSED = "refused (400)"
    CLIENT = "not sent"


@dataclass(frozen=True)
class Rule:
    wire: str  # where the field travels in the REST body, camelCase; "" if the SDK never sends it
    handling: Handling
    why: str


HONOURED, LIMITED, IGNORED = Handling.HONOURED, Handling.LIMITED, Handling.IGNORED
REFUSED, CLIENT = Handling.REFUSED, Handling.CLIENT
GC = "generationConfig."
NO_SAFETY = "the embedded and upstream models have no safety filter to configure; nothing is blocked"

GENERATE_CONTENT_CONFIG = {
    "http_options": Rule("", CLIENT, "the SDK's own HTTP settings"),
    "should_return_http_response": Rule("", CLIENT, "the SDK keeps the raw HTTP response"),
    "system_instruction": Rule("systemInstruction", HONOURED, "joined to the code-execution prompt"),
    "temperature": Rule(GC + "temperature", HONOURED, "the model's sampling"),
    "top_p": Rule(GC + "topP", HONOURED, "the model's sampling"),
    "top_k": Rule(GC + "topK", HONOURED, "the model's sampling"),
    "candidate_count": Rule(GC + "candidateCount", LIMITED, "1 only: the loop runs one trail of code"),
    "max_output_tokens": Rule(
        GC + "maxOutputTokens", HONOURED, "a budget for the whole trail; finishes MAX_TOKENS"
    ),
    "stop_sequences": Rule(GC + "stopSequences", HONOURED, "cuts the text, even across streamed chunks"),
    "response_logprobs": Rule(
        GC + "responseLogprobs",
        HONOURED,
        "logprobsResult and avgLogprobs on the final candidate (the last chunk of a stream): every token "
        "the model wrote, code included, from the embedded model's logits before sampling, the scripted "
        "model's certainty or the upstream server's logprobs",
    ),
    "logprobs": Rule(GC + "logprobs", LIMITED, "0 to 20 top candidates per token, with responseLogprobs"),
    "presence_penalty": Rule(GC + "presencePenalty", HONOURED, "passed to the model's sampler"),
    "frequency_penalty": Rule(GC + "frequencyPenalty", HONOURED, "passed to the model's sampler"),
    "seed": Rule(GC + "seed", HONOURED, "the model's sampler's seed"),
    "response_mime_type": Rule(
        GC + "responseMimeType", LIMITED, "text/plain only; like Gemini, no JSON mode beside code execution"
    ),
    "response_schema": Rule(
        GC + "responseSchema", REFUSED, "no constrained decoding: a schema would be ignored"
    ),
    "response_json_schema": Rule(GC + "responseJsonSchema", REFUSED, "as responseSchema"),
    "routing_config": Rule(
        GC + "routingConfig", IGNORED, "Vertex's model router: the model in the path serves"
    ),
    "model_selection_config": Rule(
        GC + "modelConfig",
        IGNORED,
        "Vertex's model router (the SDK's name for it on the wire): the model in the path serves",
    ),
    "safety_settings": Rule("safetySettings", IGNORED, NO_SAFETY),
    "tools": Rule("tools", LIMITED, "codeExecution and functionDeclarations; see the Tool table"),
    "tool_config": Rule("toolConfig", HONOURED, "see the ToolConfig table"),
    "labels": Rule("labels", IGNORED, "billing labels: nothing is billed"),
    "cached_content": Rule(
        "cachedContent", REFUSED, "no context caches: the cached turns would silently be missing"
    ),
    "response_modalities": Rule(GC + "responseModalities", LIMITED, "TEXT only: the models write text"),
    "media_resolution": Rule(
        GC + "mediaResolution", IGNORED, "the model reads no media itself: files go to the code as they are"
    ),
    "speech_config": Rule(GC + "speechConfig", IGNORED, "speech output only; AUDIO modality is refused"),
    "audio_timestamp": Rule(
        GC + "audioTimestamp", IGNORED, "audio understanding only: no model here hears audio"
    ),
    "automatic_function_calling": Rule("", CLIENT, "the SDK calls Python functions itself"),
    "thinking_config": Rule(
        GC + "thinkingConfig",
        IGNORED,
        "the models do not think apart from their answer; no thought parts are returned, as with a "
        "thinking budget of 0",
    ),
    "image_config": Rule(GC + "imageConfig", IGNORED, "image output only; IMAGE modality is refused"),
    "enable_enhanced_civic_answers": Rule(
        GC + "enableEnhancedCivicAnswers", IGNORED, "a Gemini product feature"
    ),
    "model_armor_config": Rule("modelArmorConfig", IGNORED, "Vertex's Model Armor screening: " + NO_SAFETY),
    "service_tier": Rule("serviceTier", IGNORED, "one tier: every request is served alike"),
    "audio_transcription_config": Rule(
        GC + "audioTranscriptionConfig", IGNORED, "audio understanding only: no model here hears audio"
    ),
    "continuation_token": Rule(
        "continuationToken", REFUSED, "no response ends with CONTINUATION, so no token names one to resume"
    ),
    "automatic_continuation": Rule("", CLIENT, "the SDK resumes CONTINUATION finishes itself"),
    "generation_output_config": Rule(
        "outputConfig", IGNORED, "Cloud Storage for generated media; files code writes come inline or linked"
    ),
    "store": Rule("store", IGNORED, "request logging: codeloop logs no request or response content"),
}

# generationConfig fields the REST API and the SDK's GenerationConfig have beyond GenerateContentConfig.
GENERATION_CONFIG = {
    "enable_affective_dialog": Rule(GC + "enableAffectiveDialog", IGNORED, "a Live API feature"),
    "response_format": Rule(
        GC + "responseFormat", LIMITED, "text/plain text only: audio, image, video or JSON output is refused"
    ),
    "translation_config": Rule(GC + "translationConfig", IGNORED, "a Live API feature"),
}

PART = {
    "text": Rule("text", HONOURED, "the turn's words"),
    "inline_data": Rule("inlineData", HONOURED, "a file staged in the code's working directory"),
    "file_data": Rule("fileData", HONOURED, "a Files API file of the same key, staged like inlineData"),
    "function_call": Rule("functionCall", HONOURED, "replayed as the model's call"),
    "function_response": Rule("functionResponse", HONOURED, "the call's result; matched to its call by id"),
    "executable_code": Rule("executableCode", HONOURED, "replayed as the model's code"),
    "code_execution_result": Rule("codeExecutionResult", HONOURED, "replayed as the code's result"),
    "thought": Rule("thought", HONOURED, "thought parts are kept out of the model's prompt, as Gemini does"),
    "thought_signature": Rule(
        "thoughtSignature", IGNORED, "accepted on any part, alone too: no thoughts to resume"
    ),
    "tool_call": Rule(
        "toolCall", IGNORED, "a server-side tool's call in replayed history; its response is context"
    ),
    "tool_response": Rule(
        "toolResponse", HONOURED, "a server-side tool's result, replayed to the model as context"
    ),
    "part_metadata": Rule("partMetadata", IGNORED, "the client's own bookkeeping"),
    "video_metadata": Rule("videoMetadata", IGNORED, "the model sees no video; the code gets the whole file"),
    "media_resolution": Rule(
        "mediaResolution", IGNORED, "the model sees no media; the code gets the whole file"
    ),
    "media_processing": Rule(
        "mediaProcessing", IGNORED, "the model sees no video; the code gets the whole file"
    ),
    "speech_metadata": Rule("speechMetadata", IGNORED, "speech output only"),
    "audio_transcription": Rule("audioTranscription", IGNORED, "output only"),
}

NOT_HERE = "a tool this server does not run: the answer would lack what it finds"
TOOL = {
    "code_execution": Rule("codeExecution", HONOURED, "the Python sandbox"),
    "function_declarations": Rule(
        "functionDeclarations", HONOURED, "the client's functions; calls go back to it"
    ),
    "retrieval": Rule("retrieval", REFUSED, NOT_HERE),
    "computer_use": Rule("computerUse", REFUSED, NOT_HERE),
    "file_search": Rule("fileSearch", REFUSED, NOT_HERE),
    "google_search": Rule("googleSearch", REFUSED, NOT_HERE),
    "google_maps": Rule("googleMaps", REFUSED, NOT_HERE),
    "enterprise_web_search": Rule("enterpriseWebSearch", REFUSED, NOT_HERE),
    "google_search_retrieval": Rule("googleSearchRetrieval", REFUSED, NOT_HERE),
    "parallel_ai_search": Rule("parallelAiSearch", REFUSED, NOT_HERE),
    "url_context": Rule("urlContext", REFUSED, NOT_HERE),
    "mcp_servers": Rule("mcpServers", REFUSED, NOT_HERE),
    "exa_ai_search": Rule("exaAiSearch", REFUSED, NOT_HERE),
}

TOOL_CONFIG = {
    "function_calling_config": Rule(
        "functionCallingConfig", HONOURED, "AUTO, ANY (with allowedFunctionNames), NONE and VALIDATED"
    ),
    "retrieval_config": Rule("retrievalConfig", IGNORED, "configures retrieval tools, which are refused"),
    "include_server_side_tool_invocations": Rule(
        "includeServerSideToolInvocations",
        IGNORED,
        "code execution's parts (executableCode, codeExecutionResult) are always returned, as Gemini "
        "returns them; no other server-side tool runs",
    ),
}

FUNCTION_CALL = {
    "id": Rule("id", HONOURED, "one on every call sent; a functionResponse names it back"),
    "name": Rule("name", HONOURED, "the declared function"),
    "args": Rule("args", HONOURED, "checked against the declaration's parameters"),
    "partial_args": Rule("partialArgs", IGNORED, "streamed argument pieces: calls arrive whole here"),
    "will_continue": Rule("willContinue", IGNORED, "streamed argument pieces: calls arrive whole here"),
}

FUNCTION_RESPONSE = {
    "id": Rule(
        "id", HONOURED, "matches the response to its call: results reach the model in the calls' order"
    ),
    "name": Rule("name", HONOURED, "the function; taken from the call its id names when left out"),
    "response": Rule("response", HONOURED, "what the model reads"),
    "parts": Rule("parts", HONOURED, "files the function returned, staged in the working directory"),
    "scheduling": Rule("scheduling", IGNORED, "for NON_BLOCKING calls of the Live API"),
    "will_continue": Rule("willContinue", IGNORED, "for NON_BLOCKING calls of the Live API"),
}

EXECUTABLE_CODE = {
    "id": Rule("id", HONOURED, "on every block sent, unique in the response; accepted on replay"),
    "code": Rule("code", HONOURED, "the block"),
    "language": Rule("language", HONOURED, "PYTHON"),
}

CODE_EXECUTION_RESULT = {
    "id": Rule("id", HONOURED, "the id of the block it ran"),
    "outcome": Rule("outcome", HONOURED, "OUTCOME_OK, OUTCOME_FAILED or OUTCOME_DEADLINE_EXCEEDED"),
    "output": Rule("output", HONOURED, "the block's stdout and stderr, in order"),
}

# By the name of the google.genai type each table decides.
TABLES: dict[str, dict[str, Rule]] = {
    "GenerateContentConfig": GENERATE_CONTENT_CONFIG,
    "GenerationConfig": GENERATION_CONFIG,
    "Part": PART,
    "Tool": TOOL,
    "ToolConfig": TOOL_CONFIG,
    "FunctionCall": FUNCTION_CALL,
    "FunctionResponse": FUNCTION_RESPONSE,
    "ExecutableCode": EXECUTABLE_CODE,
    "CodeExecutionResult": CODE_EXECUTION_RESULT,
}


def markdown() -> str:
    """The tables as Markdown, one section per type, for the README."""
    sections = []
    for name, table in TABLES.items():
        rows = [f"### {name}", "", "| Field | On the wire | Handling | Why |", "|---|---|---|---|"]
        rows += [
            f"| `{field}` | {f'`{rule.wire}`' if rule.wire else '-'} | {rule.handling.value} | {rule.why} |"
            for field, rule in table.items()
        ]
        sections.append("\n".join(rows))
    return "\n\n".join(sections) + "\n"
