"""A prompted tool-calling protocol for models and servers without native function calling.

The tools go into the system prompt with an instruction to answer `<tool_call>{...}</tool_call>`
(the Hermes/Qwen convention, which many small instruct models have seen); earlier assistant calls and
tool results are rewritten as plain text turns, so only system/user/assistant roles remain.
`toolcall_parser.parse_tool_calls` reads the answers back.
"""

from __future__ import annotations

import json
from typing import Any

from tooltune.models.toolcall_parser import TOOL_CALL_CLOSE, TOOL_CALL_OPEN
from tooltune.models.types import Message, ToolChoice, ToolSchema, chosen_function
from tooltune.models.types import tool_names as tool_names  # re-exported for existing callers

INSTRUCTIONS = (
    "You can call the tools below. Their descriptions and JSON Schema parameters are inside <tools></tools>.\n"
    "<tools>\n{tools}\n</tools>\n"
    "To call a tool, answer with one block per call and nothing else:\n"
    f'{TOOL_CALL_OPEN}{{"name": "<tool name>", "arguments": {{<arguments as a JSON object>}}}}{TOOL_CALL_CLOSE}\n'
    "Each result comes back in a <tool_response></tool_response> block. "
    "When no tool is needed, answer the user in plain text."
)


def tools_prompt(tools: list[ToolSchema], tool_choice: ToolChoice | None = None) -> str:
    """The system-prompt block that lists the tools and explains the call format (and what tool_choice asks)."""
    listing = "\n".join(json.dumps(tool.get("function", tool), ensure_ascii=False) for tool in tools)
    prompt = INSTRUCTIONS.replace("{tools}", listing)
    demand = choice_instruction(tool_choice)
    return f"{prompt}\n{demand}" if demand else prompt


def choice_instruction(tool_choice: ToolChoice | None) -> str:
    """One sentence telling a prompted model what a (normalized) tool_choice demands; "" for auto."""
    name = chosen_function(tool_choice)
    if name:
        return f"Now call the tool {name}, once, and write nothing else."
    if tool_choice == "required":
        return "Now call one or more tools, and write nothing else."
    if tool_choice == "none":
        return "Do not call a tool now: answer in plain text."
    return ""


def arguments_as_dict(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict: OpenAI messages carry them as a JSON string."""
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str) and arguments.strip():
        try:
            decoded = json.loads(arguments)
        except json.JSONDecodeError:
            return {"_raw": arguments}
        return decoded if isinstance(decoded, dict) else {"_value": decoded}
    return {}


def call_as_text(call: dict[str, Any]) -> str:
    """One OpenAI tool call ({"function": {"name", "arguments"}}) as a `<tool_call>` block."""
    function = call.get("function", call)
    payload = {"name": function.get("name"), "arguments": arguments_as_dict(function.get("arguments"))}
    return f"{TOOL_CALL_OPEN}{json.dumps(payload, ensure_ascii=False)}{TOOL_CALL_CLOSE}"


def tool_result_as_text(message: Message, names_by_id: dict[str, str]) -> str:
    """A `tool` message as a `<tool_response>` block naming the tool it answers."""
    name = message.get("name") or names_by_id.get(message.get("tool_call_id", ""), "tool")
    return f'<tool_response name="{name}">\n{content_text(message.get("content"))}\n</tool_response>'


def content_text(content: Any) -> str:
    """Message content as text: None -> "", OpenAI content parts -> their text joined."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def render_text_protocol(
    messages: list[Message], tools: list[ToolSchema] | None, tool_choice: ToolChoice | None = None
) -> list[Message]:
    """Rewrite a conversation with tools into plain system/user/assistant turns."""
    out: list[Message] = []
    names_by_id: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                names_by_id[call.get("id", "")] = call.get("function", call).get("name", "tool")
            parts = [content_text(message.get("content"))] + [call_as_text(c) for c in message["tool_calls"]]
            _append(out, "assistant", "\n".join(part for part in parts if part))
        elif role == "tool":
            _append(out, "user", tool_result_as_text(message, names_by_id))
        else:
            _append(out, str(role), content_text(message.get("content")))
    if tools:
        prompt = tools_prompt(tools, tool_choice)
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{prompt}"}
        else:
            out.insert(0, {"role": "system", "content": prompt})
    return out


def _append(out: list[Message], role: str, content: str) -> None:
    """Append a turn, merging consecutive tool results (user turns) into one message."""
    if out and role == "user" and out[-1]["role"] == "user" and out[-1]["content"].startswith("<tool_response"):
        out[-1] = {"role": "user", "content": f"{out[-1]['content']}\n{content}"}
    else:
        out.append({"role": role, "content": content})
