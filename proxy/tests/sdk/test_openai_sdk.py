"""The official OpenAI SDK pointed at Switchyard."""

import json

import openai
import pytest


def test_chat_completion_through_the_gateway(openai_client, gateway):
    raw = openai_client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": "Hello gateway"}]
    )
    assert raw.headers["x-switchyard-route"] == "default/gpt-4o"
    assert raw.headers["x-switchyard-backend"] == "default/gpt-4o"
    completion = raw.parse()
    assert "Hello gateway" in completion.choices[0].message.content
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0


def test_chat_stream_assembles_the_answer(openai_client):
    stream = openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "stream these words please"}],
        stream=True,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "stream these words please" in text


def test_chat_stream_with_usage_reports_usage_at_the_end(openai_client):
    stream = openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "count me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_forced_tool_call_round_trip(openai_client):
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            },
        }
    ]
    completion = openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    json.loads(call.function.arguments)
    answer = openai_client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            completion.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ],
        tools=tools,
    )
    assert answer.choices[0].message.content


def test_embeddings_and_model_list(openai_client):
    embedding = openai_client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) > 0
    ids = {model.id for model in openai_client.models.list()}
    assert {"gpt-4o", "text-embedding-3-small", "claude-sonnet-4"} <= ids


def test_responses_api_passes_through(openai_client):
    response = openai_client.responses.create(model="gpt-4o", input="Say something")
    assert response.output_text


def test_unknown_model_is_a_not_found_error(openai_client):
    with pytest.raises(openai.NotFoundError) as error:
        openai_client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert "no-such-model" in error.value.message


def test_provider_429_is_a_rate_limit_error_with_retry_after(openai_client):
    with pytest.raises(openai.RateLimitError) as error:
        openai_client.chat.completions.create(model="always-429", messages=[{"role": "user", "content": "hi"}])
    assert error.value.response.headers["retry-after"] == "3"
