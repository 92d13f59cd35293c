"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai

from live import LiveServer
from sdk import developer_client, vertex_client


@pytest.fixture(params=["developer", "vertex"])
def gemini_client(request: pytest.FixtureRequest, live_server: LiveServer) -> Iterator[genai.Client]:
    """The SDK against the live server, once per API: Gemini Developer and Vertex AI."""
    make = developer_client if request.param == "developer" else vertex_client
    client = make(live_server.url)
    yield client
    client.close()
