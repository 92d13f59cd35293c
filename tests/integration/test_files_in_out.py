"""Files in and out of code execution, through the unmodified google-genai SDK: inlineData and
Files API references staged for the code; every file the code writes returned; block costs."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from codeloop.settings import Settings
from live import LiveServer, serving
from sdk import developer_client, vertex_client

CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
CSV = b"name,age\nada,36\nalan,41\n"
SUM_AGES = "```python\nimport pandas as pd\nprint(pd.read_csv({name!r}).age.sum())\n```"
WRITE_FILES = (
    "```python\n"
    "import json\n"
    "open('report.csv', 'w').write('x,y\\n1,2\\n')\n"
    "json.dump({'ok': True}, open('result.json', 'w'))\n"
    "print('written')\n"
    "```"
)


def result_parts(response: types.GenerateContentResponse) -> list[types.Part]:
    parts = response.candidates[0].content.parts
    at = next(i for i, p in enumerate(parts) if p.code_execution_result is not None)
    return parts[at:]


def test_inline_files_are_staged_under_geminis_names(gemini_client: genai.Client) -> None:
    contents: list[types.PartUnionDict] = [
        types.Part.from_bytes(data=CSV, mime_type="text/csv"),
        types.Part.from_bytes(data=b"\x89PNG\r\n", mime_type="image/png"),
        SUM_AGES.format(name="input_file_0.csv")
        + "\n"
        + "```python\nprint(len(open('input_file_1.png','rb').read()))\n```",
    ]
    response = gemini_client.models.generate_content(model="scripted", contents=contents, config=CODE_TOOL)
    outputs = [
        p.code_execution_result.output
        for p in response.candidates[0].content.parts
        if p.code_execution_result
    ]
    assert outputs == ["77\n", "6\n"]


def test_a_display_name_names_the_file(gemini_client: genai.Client) -> None:
    part = types.Part(inline_data=types.Blob(data=CSV, mime_type="text/csv", display_name="people.csv"))
    contents: list[types.PartUnionDict] = [part, SUM_AGES.format(name="people.csv")]
    response = gemini_client.models.generate_content(model="scripted", contents=contents, config=CODE_TOOL)
    assert response.code_execution_result == "77\n"


def test_uploaded_files_are_staged_from_the_files_api(live_server: LiveServer) -> None:
    with developer_client(live_server.url) as client:
        uploaded = client.files.upload(file=io.BytesIO(CSV), config={"mime_type": "text/csv"})
        contents: list[types.PartUnionDict] = [uploaded, SUM_AGES.format(name="input_file_0.csv")]
        response = client.models.generate_content(model="scripted", contents=contents, config=CODE_TOOL)
        assert response.code_execution_result == "77\n"
        named = client.files.upload(
            file=io.BytesIO(CSV), config={"mime_type": "text/csv", "display_name": "staff.csv"}
        )
        contents = [named, SUM_AGES.format(name="staff.csv")]
        response = client.models.generate_content(model="scripted", contents=contents, config=CODE_TOOL)
        assert response.code_execution_result == "77\n"

        client.files.delete(name=uploaded.name)
        contents = [uploaded, SUM_AGES.format(name="x")]
        with pytest.raises(errors.ClientError) as gone:
            client.models.generate_content(model="scripted", contents=contents, config=CODE_TOOL)
        assert gone.value.code == 404


def test_files_the_code_writes_come_back_inline_with_their_names(gemini_client: genai.Client) -> None:
    response = gemini_client.models.generate_content(model="scripted", contents=WRITE_FILES, config=CODE_TOOL)
    result, *files = result_parts(response)[:3]
    assert result.code_execution_result.output == "written\n"
    assert [(f.inline_data.display_name, f.inline_data.mime_type, f.inline_data.data) for f in files] == [
        ("report.csv", "text/csv", b"x,y\n1,2\n"),
        ("result.json", "application/json", b'{"ok": true}'),
    ]


def test_block_costs_ride_in_part_metadata_on_the_gemini_api_only(live_server: LiveServer) -> None:
    code = "```python\nx = sum(range(10**6))\nprint(x)\n```"
    with developer_client(live_server.url) as client:
        response = client.models.generate_content(model="scripted", contents=code, config=CODE_TOOL)
        stats = result_parts(response)[0].part_metadata["executionStats"]
        assert stats["cpuMs"] > 0 and stats["wallMs"] > 0 and stats["peakMemoryBytes"] > 1 << 20
        # A chat sends the trail back, partMetadata included: the server takes it.
        chat = client.chats.create(model="scripted", config=CODE_TOOL)
        chat.send_message(code)
        assert chat.send_message(code).code_execution_result == "499999500000\n"
    with vertex_client(live_server.url) as client:
        response = client.models.generate_content(model="scripted", contents=code, config=CODE_TOOL)
        assert result_parts(response)[0].part_metadata is None


def test_a_binary_file_without_code_execution_is_refused(gemini_client: genai.Client) -> None:
    contents: list[types.PartUnionDict] = [
        types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"),
        "What is in the picture?",
    ]
    with pytest.raises(errors.ClientError) as refused:
        gemini_client.models.generate_content(model="scripted", contents=contents)
    assert refused.value.code == 400 and "codeExecution" in refused.value.message
    text_only: list[types.PartUnionDict] = [
        types.Part.from_bytes(data=CSV, mime_type="text/csv"),
        "Who is older?",
    ]
    response = gemini_client.models.generate_content(model="scripted", contents=text_only)
    assert "alan,41" in response.text  # the scripted model echoes what it read


def test_big_files_come_back_as_links_to_the_files_api(tmp_path: Path) -> None:
    settings = Settings(model="scripted", inline_file_bytes=1000, data_dir=tmp_path)
    code = "```python\nopen('big.txt', 'w').write('z' * 5000)\nopen('small.txt', 'w').write('s')\n```"
    with serving(settings) as server, developer_client(server.url) as client:
        response = client.models.generate_content(model="scripted", contents=code, config=CODE_TOOL)
        _, big, small = result_parts(response)[:3]
        assert small.inline_data.data == b"s"
        assert big.file_data.display_name == "big.txt" and big.file_data.mime_type == "text/plain"
        stored = client.files.get(name=big.file_data.file_uri.rsplit("/", 1)[1])
        assert stored.source == types.FileSource.GENERATED and stored.size_bytes == 5000
        download = httpx.get(big.file_data.file_uri + ":download", params={"alt": "media", "key": "k"})
        assert download.status_code == 200 and download.content == b"z" * 5000
        # Sent back in a later turn, the link is staged like an upload.
        again: list[types.PartUnionDict] = [big, "```python\nprint(len(open('big.txt').read()))\n```"]
        response = client.models.generate_content(model="scripted", contents=again, config=CODE_TOOL)
        assert response.code_execution_result == "5000\n"


def test_past_the_responses_inline_budget_images_come_back_as_links(tmp_path: Path) -> None:
    settings = Settings(model="scripted", inline_response_bytes=3000, data_dir=tmp_path)
    code = "".join(
        f"```python\nopen('{name}.png', 'wb').write(b'{name}' * 1000)\n```\n" for name in ("ab", "cd")
    )
    with serving(settings) as server, developer_client(server.url) as client:
        whole = client.models.generate_content(model="scripted", contents=code, config=CODE_TOOL)
        streamed = client.models.generate_content_stream(model="scripted", contents=code, config=CODE_TOOL)
        for parts in (
            whole.candidates[0].content.parts,
            [part for chunk in streamed for part in chunk.candidates[0].content.parts],
        ):
            first, second = [p for p in parts if p.inline_data or p.file_data]
            assert first.inline_data.display_name == "ab.png" and first.inline_data.data == b"ab" * 1000
            assert second.file_data.display_name == "cd.png" and second.file_data.mime_type == "image/png"
            download = httpx.get(second.file_data.file_uri + ":download", params={"alt": "media"})
            assert download.content == b"cd" * 1000
