"""Injected statuses, auth failures and mid-stream errors surface as the SDKs' typed exceptions."""

import anthropic
import openai
import pytest

from conftest import API_KEY

CHAT = dict(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
MESSAGE = dict(model="claude-mock-1", max_tokens=10, messages=[{"role": "user", "content": "x"}])


@pytest.fixture
def oai(mock):
    return openai.OpenAI(base_url=f"{mock.base_url}/v1", api_key=API_KEY, max_retries=0)


@pytest.fixture
def claude(mock):
    return anthropic.Anthropic(base_url=mock.base_url, api_key=API_KEY, max_retries=0)


def test_openai_429_is_a_rate_limit_error_with_retry_after(oai):
    with pytest.raises(openai.RateLimitError) as error:
        oai.chat.completions.create(**CHAT, extra_headers={"x-mock-status": "429", "x-mock-retry-after": "7"})
    assert error.value.response.headers["retry-after"] == "7"
    assert error.value.code == "rate_limit_exceeded"


@pytest.mark.parametrize("status", ["500", "503"])
def test_openai_5xx_is_an_internal_server_error(oai, status):
    with pytest.raises(openai.InternalServerError) as error:
        oai.chat.completions.create(**CHAT, extra_headers={"x-mock-status": status})
    assert error.value.status_code == int(status)
    assert error.value.type == "server_error"


def test_openai_wrong_key_is_an_authentication_error(mock):
    client = openai.OpenAI(base_url=f"{mock.base_url}/v1", api_key="sk-wrong-key-123456", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        client.chat.completions.create(**CHAT)
    assert error.value.code == "invalid_api_key"


def test_openai_error_mid_stream_raises(oai):
    stream = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "one two three four"}], stream=True,
        extra_headers={"x-mock-fault": "error-mid-stream"},
    )
    with pytest.raises(openai.APIError):
        list(stream)


def test_openai_sdk_retries_after_a_scripted_429(mock):
    client = openai.OpenAI(base_url=f"{mock.base_url}/v1", api_key=API_KEY, max_retries=2)
    # The Behavior budget makes only the next request fail, so the SDK's retry succeeds.
    import json
    import urllib.request
    body = json.dumps({"status": 429, "retry_after": 0, "times": 1}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{mock.base_url}/_mock/behavior", data=body, method="PUT")).close()
    try:
        completion = client.chat.completions.create(**CHAT)
        assert completion.choices[0].message.content == "x"
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{mock.base_url}/_mock/behavior", method="DELETE")).close()


def test_anthropic_429_is_a_rate_limit_error_with_retry_after(claude):
    with pytest.raises(anthropic.RateLimitError) as error:
        claude.messages.create(**MESSAGE, extra_headers={"x-mock-status": "429", "x-mock-retry-after": "3"})
    assert error.value.response.headers["retry-after"] == "3"
    assert error.value.body["error"]["type"] == "rate_limit_error"


@pytest.mark.parametrize("status", ["500", "503", "529"])
def test_anthropic_5xx_is_an_internal_server_error(claude, status):
    with pytest.raises(anthropic.InternalServerError) as error:
        claude.messages.create(**MESSAGE, extra_headers={"x-mock-status": status})
    assert error.value.status_code == int(status)


def test_anthropic_wrong_key_is_an_authentication_error(mock):
    client = anthropic.Anthropic(base_url=mock.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as error:
        client.messages.create(**MESSAGE)
    assert error.value.body["error"]["type"] == "authentication_error"


def test_anthropic_error_event_mid_stream_raises(claude):
    with pytest.raises(anthropic.APIStatusError):
        with claude.messages.stream(
            **{**MESSAGE, "messages": [{"role": "user", "content": "one two three four"}]},
            extra_headers={"x-mock-fault": "error-mid-stream"},
        ) as stream:
            list(stream.text_stream)
