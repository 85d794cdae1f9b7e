"""The official openai SDK parses every OpenAI answer of the mock, whole and streamed."""

import json

import openai
import pytest

from conftest import API_KEY

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


@pytest.fixture
def client(mock):
    return openai.OpenAI(base_url=f"{mock.base_url}/v1", api_key=API_KEY, max_retries=0)


def test_chat_completion_echoes_the_prompt_with_usage(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hello mock world"}],
        extra_headers={"x-mock-cached-tokens": "2", "x-mock-reasoning-tokens": "4"},
    )
    assert completion.choices[0].message.content == "Hello mock world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage.prompt_tokens == 5
    assert completion.usage.completion_tokens == 3 + 4
    assert completion.usage.prompt_tokens_details.cached_tokens == 2
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4


def test_chat_stream_sends_one_chunk_per_word_and_a_usage_chunk(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 4


def test_chat_max_tokens_truncates_with_length(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "a b c d e f"}],
        max_completion_tokens=2,
    )
    assert completion.choices[0].message.content == "a b"
    assert completion.choices[0].finish_reason == "length"


def test_chat_forced_tool_returns_a_tool_call(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "unit": "c"}


def test_chat_tool_call_streams_argument_deltas(client):
    with client.chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "call get_weather"}],
        tools=[WEATHER_TOOL],
    ) as stream:
        deltas = [e for e in stream if e.type == "tool_calls.function.arguments.delta"]
        final = stream.get_final_completion()
    assert len(deltas) > 1
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock", "unit": "c"}


def test_chat_after_a_tool_result_answers_with_text(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny and warm"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="required",
    )
    assert completion.choices[0].message.content == "sunny and warm"


def test_completions_whole_and_streamed(client):
    whole = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say this")
    assert whole.choices[0].text == "say this"
    streamed = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="say this", stream=True)
    assert "".join(c.choices[0].text for c in streamed) == "say this"


def test_embeddings_decode_from_base64_and_floats(client):
    default = client.embeddings.create(model="text-embedding-3-small", input=["alpha", "beta"])
    assert [len(d.embedding) for d in default.data] == [1536, 1536]
    floats = client.embeddings.create(
        model="text-embedding-3-small", input="alpha", dimensions=8, encoding_format="float"
    )
    assert len(floats.data[0].embedding) == 8
    assert abs(sum(v * v for v in floats.data[0].embedding) - 1.0) < 1e-4
    assert default.usage.prompt_tokens == 2


def test_models_list_and_retrieve(client):
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_responses_whole(client):
    response = client.responses.create(
        model="gpt-4o", input="respond in kind", extra_headers={"x-mock-cached-tokens": "1"}
    )
    assert response.output_text == "respond in kind"
    assert response.status == "completed"
    assert response.usage.input_tokens == 3
    assert response.usage.input_tokens_details.cached_tokens == 1


def test_responses_stream_events_in_order(client):
    events = list(client.responses.create(model="gpt-4o", input="stream me now", stream=True))
    types = [e.type for e in events]
    assert types[:4] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
    ]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "stream me now"


def test_responses_stream_helper_accumulates_a_function_call(client):
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    with client.responses.stream(model="gpt-4o", input="please lookup", tools=[tool], tool_choice="required") as stream:
        final = stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and call.name == "lookup"
    assert json.loads(call.arguments) == {"q": "mock"}
