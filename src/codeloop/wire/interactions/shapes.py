"""The Interactions API's JSON shapes that codeloop reads and writes, named and typed as google-genai's.

One set of models serves both ways: a stateless client (store=false) sends back the steps it was
given, so what the server writes must read back. Field names are the SDK's (see
google/genai/_gaos/types/interactions); unknown fields are refused, as Google refuses them, so a
misspelt option never silently changes what runs. A tool, step or content type codeloop does not
serve fails validation with the list of those it does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic

STEP_TYPES = frozenset(
    {
        # Every step type of the SDK's Step union: a list of these is a conversation, not contents.
        "user_input",
        "model_output",
        "thought",
        "function_call",
        "function_result",
        "code_execution_call",
        "code_execution_result",
        "url_context_call",
        "url_context_result",
        "google_search_call",
        "google_search_result",
        "mcp_server_tool_call",
        "mcp_server_tool_result",
        "file_search_call",
        "file_search_result",
        "google_maps_call",
        "google_maps_result",
        "retrieval_call",
        "retrieval_result",
        "processing_call",
        "processing_result",
    }
)

Status = Literal["in_progress", "requires_action", "completed", "failed", "cancelled", "incomplete"]
TERMINAL: frozenset[str] = frozenset({"requires_action", "completed", "failed", "cancelled", "incomplete"})


class Wire(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")


class TextContent(Wire):
    type: Literal["text"] = "text"
    text: str
    annotations: list[dict[str, Any]] | None = None


class MediaContent(Wire):
    """An image, audio, video or document: inline (`data`, base64) or a Files API `uri`."""

    type: Literal["image", "audio", "video", "document"]
    data: str | None = pydantic.Field(None, description="The bytes, base64.")
    uri: str | None = pydantic.Field(None, description="A file of this server's Files API.")
    mime_type: str | None = None
    resolution: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    name: str | None = None
    processing: dict[str, Any] | None = None


Content = Annotated[TextContent | MediaContent, pydantic.Field(discriminator="type")]


class UserInputStep(Wire):
    type: Literal["user_input"] = "user_input"
    content: list[Content] | None = None


class ModelOutputStep(Wire):
    type: Literal["model_output"] = "model_output"
    content: list[Content] | None = None
    error: dict[str, Any] | None = None


class ThoughtStep(Wire):
    """Accepted in a conversation sent back; codeloop's models write none."""

    type: Literal["thought"] = "thought"
    signature: str | None = None
    summary: list[dict[str, Any]] | None = None


class CodeExecutionArguments(Wire):
    code: str | None = None
    language: Literal["python", "bash"] | None = None


class CodeExecutionCallStep(Wire):
    type: Literal["code_execution_call"] = "code_execution_call"
    id: str
    arguments: CodeExecutionArguments
    signature: str | None = None


class CodeExecutionResultStep(Wire):
    """The result of the call `call_id` names: its output, then the files its code wrote."""

    type: Literal["code_execution_result"] = "code_execution_result"
    call_id: str
    result: str | list[Content]
    is_error: bool | None = None
    signature: str | None = None


class FunctionCallStep(Wire):
    type: Literal["function_call"] = "function_call"
    id: str
    name: str
    arguments: dict[str, Any]


class FunctionResultStep(Wire):
    type: Literal["function_result"] = "function_result"
    call_id: str
    result: dict[str, Any] | list[Content] | str
    is_error: bool | None = None
    name: str | None = None


Step = Annotated[
    UserInputStep
    | ModelOutputStep
    | ThoughtStep
    | CodeExecutionCallStep
    | CodeExecutionResultStep
    | FunctionCallStep
    | FunctionResultStep,
    pydantic.Field(discriminator="type"),
]
InteractionInput = str | Content | list[Step] | list[Content]


class CodeExecutionTool(Wire):
    type: Literal["code_execution"] = "code_execution"


class FunctionTool(Wire):
    type: Literal["function"] = "function"
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = pydantic.Field(None, description="A JSON Schema of the arguments.")


Tool = Annotated[CodeExecutionTool | FunctionTool, pydantic.Field(discriminator="type")]
ToolChoiceMode = Literal["auto", "any", "none", "validated"]


class AllowedTools(Wire):
    mode: ToolChoiceMode | None = None
    tools: list[str] | None = None


class ToolChoiceConfig(Wire):
    allowed_tools: AllowedTools | None = None


class InteractionGenerationConfig(Wire):
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop_sequences: list[str] | None = None
    max_output_tokens: int | None = None
    tool_choice: ToolChoiceMode | ToolChoiceConfig | None = None
    thinking_level: str | None = pydantic.Field(
        None, description="Accepted; these models do not think aloud."
    )
    thinking_summaries: str | None = pydantic.Field(None, description="Accepted; there are no thoughts.")
    image_config: dict[str, Any] | None = pydantic.Field(None, description="Not supported.")
    speech_config: Any = pydantic.Field(None, description="Not supported.")
    video_config: dict[str, Any] | None = pydantic.Field(None, description="Not supported.")
    transcription_config: dict[str, Any] | None = pydantic.Field(None, description="Not supported.")


class CreateInteractionRequest(Wire):
    """The body of interactions.create, for a model (agents are not served)."""

    model: str | None = pydantic.Field(None, description="A served model; gemini-* names mean the default.")
    input: InteractionInput | None = pydantic.Field(
        None, description="Text, a content, a list of contents (one user turn) or a list of steps."
    )
    system_instruction: str | None = None
    tools: list[Tool] | None = None
    generation_config: InteractionGenerationConfig | None = None
    previous_interaction_id: str | None = pydantic.Field(
        None, description="Continue that stored interaction: its conversation and its interpreter."
    )
    store: bool | None = pydantic.Field(None, description="Keep the interaction for get and continuing.")
    stream: bool | None = pydantic.Field(None, description="Answer with Server-Sent Events.")
    background: bool | None = pydantic.Field(None, description="Answer at once; poll get, or cancel.")
    labels: dict[str, str] | None = None
    response_modalities: list[str] | None = pydantic.Field(None, description="text only.")
    response_mime_type: str | None = pydantic.Field(None, description="text/plain only.")
    safety_settings: list[dict[str, Any]] | None = pydantic.Field(None, description="Accepted, not applied.")
    service_tier: str | None = pydantic.Field(None, description="Accepted; there is one tier.")
    response_format: Any = pydantic.Field(None, description="Not supported.")
    agent: Any = pydantic.Field(None, description="Not supported: models only.")
    agent_config: Any = pydantic.Field(None, description="Not supported: models only.")
    cached_content: Any = pydantic.Field(None, description="Not supported.")
    continuation_token: Any = pydantic.Field(None, description="Not supported: decoding never pauses.")
    environment: Any = pydantic.Field(None, description="Not supported.")
    webhook_config: Any = pydantic.Field(None, description="Not supported.")


class InteractionUsage(Wire):
    total_input_tokens: int
    total_output_tokens: int
    total_tool_use_tokens: int
    total_tokens: int


class InteractionError(Wire):
    code: str
    message: str


class Interaction(Wire):
    """The Interaction resource as codeloop returns it."""

    id: str
    status: Status
    model: str
    created: str = pydantic.Field(description="ISO 8601, UTC: YYYY-MM-DDThh:mm:ssZ.")
    updated: str
    previous_interaction_id: str | None = None
    system_instruction: str | None = None
    tools: list[Tool] | None = None
    generation_config: InteractionGenerationConfig | None = None
    labels: dict[str, str] | None = None
    input: list[Step] | None = pydantic.Field(None, description="With include_input=true only.")
    steps: list[Step] = pydantic.Field(
        default_factory=list, description="This turn's input steps, then what the model did, in order."
    )
    usage: InteractionUsage | None = None
    errors: list[InteractionError] | None = None
