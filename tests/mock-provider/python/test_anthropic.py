"""The official anthropic SDK parses the mock's Messages answers, whole and streamed."""

import anthropic
import pytest

from conftest import API_KEY

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture
def client(mock):
    return anthropic.Anthropic(base_url=mock.base_url, api_key=API_KEY, max_retries=0)


def test_message_echoes_with_cache_usage(client, recorded):
    message = client.messages.create(
        model="claude-mock-1",
        max_tokens=100,
        system="be nice",
        messages=[{"role": "user", "content": "Hello Claude mock"}],
        extra_headers={"x-mock-cached-tokens": "2", "x-mock-cache-write-tokens": "1"},
    )
    assert message.content[0].text == "Hello Claude mock"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 5 - 2 - 1
    assert message.usage.cache_read_input_tokens == 2
    assert message.usage.cache_creation_input_tokens == 1
    headers = recorded.last()["headers"]
    # Recent SDKs send the key as a Bearer token; older ones as x-api-key.
    assert headers.get("x-api-key") == API_KEY or headers.get("authorization") == f"Bearer {API_KEY}"
    assert "anthropic-version" in headers


def test_message_stream_text(client):
    with client.messages.stream(
        model="claude-mock-1", max_tokens=100, messages=[{"role": "user", "content": "stream these words"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "stream these words"
    assert final.usage.output_tokens == 3
    assert final.stop_reason == "end_turn"


def test_forced_tool_use_whole_and_streamed(client):
    kwargs = dict(
        model="claude-mock-1",
        max_tokens=100,
        messages=[{"role": "user", "content": "what's the weather"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any"},
    )
    whole = client.messages.create(**kwargs)
    assert whole.stop_reason == "tool_use"
    assert whole.content[0].type == "tool_use"
    assert whole.content[0].input == {"city": "mock"}
    with client.messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.content[0].name == "get_weather"
    assert final.content[0].input == {"city": "mock"}


def test_raw_stream_event_order(client):
    events = client.messages.create(
        model="claude-mock-1", max_tokens=10, messages=[{"role": "user", "content": "a b"}], stream=True
    )
    assert [e.type for e in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
