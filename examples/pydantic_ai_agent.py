"""A real model behind PyChat: Pydantic AI's AG-UI adapter, served by uvicorn.

    pip install 'pydantic-ai-slim[ag-ui,openai]==2.68.0' uvicorn
    OPENAI_API_KEY=sk-... AGENT_SECRET=s3cret uvicorn examples.pydantic_ai_agent:app --port 9000
    PYCHAT_AGENT_HEADERS='Authorization: Bearer s3cret' \\
        .venv/bin/python server.py --agent-url http://127.0.0.1:9000/agent

PYCHAT_MODEL picks any model Pydantic AI knows ("anthropic:claude-sonnet-4-5", "test", ...).
"""

import os
import secrets

from pydantic_ai import Agent
from pydantic_ai.ui.ag_ui import AGUIAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

agent = Agent(
    os.environ.get("PYCHAT_MODEL", "openai:gpt-4o-mini"),
    instructions="You answer in a team chat: briefly, in Markdown.",
    defer_model_check=True,  # the model's package and key are needed only when it answers
)
SECRET = os.environ.get("AGENT_SECRET", "")


@agent.tool_plain
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


async def run(request: Request) -> Response:
    given = request.headers.get("authorization", "")
    if SECRET and not secrets.compare_digest(given, f"Bearer {SECRET}"):
        return Response(status_code=401)  # only the chat server may spend the model's tokens
    return await AGUIAdapter.dispatch_request(request, agent=agent)


app = Starlette(routes=[Route("/agent", run, methods=["POST"])])
