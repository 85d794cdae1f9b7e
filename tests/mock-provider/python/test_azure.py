"""The openai SDK's AzureOpenAI client parses the mock's Azure answers, quirks included."""

import openai
import pytest

from conftest import API_KEY

API_VERSION = "2024-10-21"


@pytest.fixture
def client(mock):
    return openai.AzureOpenAI(azure_endpoint=mock.base_url, api_key=API_KEY, api_version=API_VERSION, max_retries=0)


def test_azure_chat_uses_the_deployment_path_and_api_key(client, recorded):
    completion = client.chat.completions.create(model="my-deployment", messages=[{"role": "user", "content": "hi azure"}])
    assert completion.choices[0].message.content == "hi azure"
    request = recorded.last()
    assert request["path"] == "/openai/deployments/my-deployment/chat/completions"
    assert request["query"] == f"api-version={API_VERSION}"
    assert request["headers"]["api-key"] == API_KEY


def test_azure_stream_opens_with_a_prompt_filter_chunk(client):
    chunks = list(client.chat.completions.create(
        model="my-deployment", messages=[{"role": "user", "content": "filtered stream"}], stream=True,
    ))
    assert chunks[0].choices == []
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "filtered stream"


def test_azure_embeddings(client):
    result = client.embeddings.create(model="embed-deployment", input="x")
    assert len(result.data[0].embedding) == 1536


def test_azure_wrong_key_is_an_authentication_error(mock):
    client = openai.AzureOpenAI(azure_endpoint=mock.base_url, api_key="wrong", api_version=API_VERSION, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as error:
        client.chat.completions.create(model="d", messages=[{"role": "user", "content": "x"}])
    assert error.value.body["code"] == "401"
