"""The official Anthropic SDK pointed at Switchyard's /v1/messages."""

import anthropic
import pytest


def test_messages_to_an_anthropic_backend(anthropic_client):
    message = anthropic_client.messages.create(
        model="claude-sonnet-4",
        max_tokens=64,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hello Claude"}],
    )
    assert message.type == "message"
    assert "Hello Claude" in message.content[0].text
    assert message.usage.input_tokens > 0


def test_messages_stream_to_an_anthropic_backend(anthropic_client):
    with anthropic_client.messages.stream(
        model="claude-sonnet-4", max_tokens=64, messages=[{"role": "user", "content": "stream me"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert "stream me" in text
    assert final.usage.output_tokens > 0


def test_messages_to_an_openai_backend_are_translated(anthropic_client, gateway):
    message = anthropic_client.messages.create(
        model="gpt-via-messages",
        max_tokens=64,
        messages=[{"role": "user", "content": "Translate me"}],
    )
    assert "Translate me" in message.content[0].text
    assert message.stop_reason in {"end_turn", "max_tokens"}
    with anthropic_client.messages.stream(
        model="gpt-via-messages", max_tokens=64, messages=[{"role": "user", "content": "stream translated"}]
    ) as stream:
        assert "stream translated" in "".join(stream.text_stream)


def test_messages_tool_use_through_an_openai_backend(anthropic_client):
    message = anthropic_client.messages.create(
        model="gpt-via-messages",
        max_tokens=128,
        tools=[
            {
                "name": "get_weather",
                "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    )
    tool_use = next(block for block in message.content if block.type == "tool_use")
    assert tool_use.name == "get_weather"
    assert isinstance(tool_use.input, dict)


def test_errors_are_anthropic_errors(anthropic_client):
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.RateLimitError):
        anthropic_client.messages.create(
            model="claude-429", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
