"""Which tool the simulated backend calls and with what arguments: deterministic, and never an
exception on a request of odd shape."""

import pytest

from routing.fakeupstream.tools import arguments_for, chat_call, halves, messages_call

WEATHER = {
    "type": "object",
    "properties": {
        "location": {"type": "string"},
        "unit": {"type": ["string", "null"]},
        "days": {"type": "integer"},
        "temperature": {"type": "number"},
        "metric": {"type": "boolean"},
        "extra": {"type": "object"},
    },
}


def chat_tool(name: str, parameters: object = None) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


def test_it_fills_the_properties_by_type():
    assert arguments_for(WEATHER) == {
        "location": "Paris",
        "unit": "x",
        "days": 1,
        "temperature": 1,
        "metric": True,
        "extra": None,
    }


@pytest.mark.parametrize("schema", [None, [], "object", {"properties": []}, {"properties": None}])
def test_a_schema_without_properties_gives_an_empty_object(schema):
    assert arguments_for(schema) == {}


def test_the_halves_of_a_string_join_to_it():
    assert "".join(halves('{"location": "Paris"}')) == '{"location": "Paris"}'
    assert all(halves('{"a": 1}'))


def test_a_chat_request_calls_its_first_function_tool():
    request = {
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [chat_tool("get_weather", WEATHER), chat_tool("other")],
    }
    assert chat_call(request) == ("get_weather", arguments_for(WEATHER))


def test_a_chat_request_calls_the_tool_its_tool_choice_names():
    request = {
        "tools": [chat_tool("first"), chat_tool("second", WEATHER)],
        "tool_choice": {"type": "function", "function": {"name": "second"}},
    }
    assert chat_call(request) == ("second", arguments_for(WEATHER))


@pytest.mark.parametrize(
    "request_",
    [
        {"tools": []},
        {"tools": [{"x": 1}], "messages": []},
        {"tools": [chat_tool("f")], "tool_choice": "none"},
        {
            "tools": [chat_tool("f")],
            "messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "18C"}],
        },
    ],
    ids=["no tools", "no function tool", "tool choice none", "after a tool result"],
)
def test_a_chat_request_is_answered_with_text_when_no_call_is_due(request_):
    assert chat_call(request_) is None


@pytest.mark.parametrize(
    "request_",
    [
        {"tools": "f", "messages": {"role": "tool"}},
        {"tools": [1, None, "f", {"type": "function", "function": ["f"]}]},
        {"tools": [chat_tool("f")], "messages": [1, "x"], "tool_choice": ["auto"]},
    ],
)
def test_a_chat_request_of_odd_shape_never_raises(request_):
    assert chat_call(request_) in (None, ("f", {}))


def test_a_messages_request_calls_its_first_client_tool():
    request = {
        "messages": [{"role": "user", "content": "weather?"}],
        "tools": [
            {"type": "web_search_20250305", "name": "web_search"},
            {"name": "get_weather", "input_schema": WEATHER},
        ],
    }
    assert messages_call(request) == ("get_weather", arguments_for(WEATHER))


def test_a_messages_request_calls_the_tool_its_tool_choice_names():
    request = {
        "tools": [{"name": "a"}, {"name": "b", "input_schema": WEATHER}],
        "tool_choice": {"type": "tool", "name": "b"},
    }
    assert messages_call(request) == ("b", arguments_for(WEATHER))


def test_a_messages_request_is_answered_with_text_after_a_tool_result():
    result = {"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "18C"}
    request = {
        "tools": [{"name": "get_weather", "input_schema": WEATHER}],
        "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake_1"}]},
            {"role": "user", "content": [result]},
        ],
    }
    assert messages_call(request) is None
    assert messages_call({**request, "tool_choice": {"type": "none"}, "messages": []}) is None


def test_a_messages_request_of_odd_shape_never_raises():
    assert messages_call({"tools": [1, {"name": 3}], "messages": "hi"}) is None
    assert messages_call({"tools": [{"name": "f"}], "messages": [{"role": "user"}, 5]}) == (
        "f",
        {},
    )
