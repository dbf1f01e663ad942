"""A small stand-in for Pyodide's ``js`` and ``pyodide.ffi``, enough for our adapters.

The document is built from the real ``index.html``, so the adapters find the ids the page
has.  Elements keep attributes, ``dataset``, text, children and listeners; ``querySelector``
understands the selectors the adapters use (tags, ``#id``, ``.class``, ``[attr]``,
``[attr="value"]``, ``:not(:empty)`` and descendants).  ``fetch`` and ``WebSocket`` are
recorded and answered by the test.

``reset(shared=True)`` gives the page ``navigator.locks`` (a lock manager with a queue,
``signal`` and ``steal``, whose callbacks run on the event loop as a browser's do) and
``BroadcastChannel`` (delivering to the other channels of the same name on the next turn of
the loop); the test plays the user's other tabs through :class:`OtherTab`.
"""

from __future__ import annotations

import asyncio
import re
import types
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

INDEX = Path(__file__).resolve().parents[3] / "index.html"
VOID = {"meta", "link", "input", "br", "img", "hr"}


def _kebab(name: str) -> str:
    return re.sub(r"[A-Z]", lambda m: "-" + m.group().lower(), name)


class Dataset:
    def __init__(self, element: Element) -> None:
        object.__setattr__(self, "_element", element)

    def __getattr__(self, name: str) -> Any:
        return self._element.getAttribute(f"data-{_kebab(name)}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._element.setAttribute(f"data-{_kebab(name)}", str(value))


class ClassList:
    def __init__(self, element: Element) -> None:
        self._element = element

    def _names(self) -> list[str]:
        return (self._element.getAttribute("class") or "").split()

    def contains(self, name: str) -> bool:
        return name in self._names()

    def add(self, name: str) -> None:
        if not self.contains(name):
            self._element.setAttribute("class", " ".join([*self._names(), name]))


class Event:
    def __init__(self, type: str, **fields: Any) -> None:
        self.type = type
        self.defaultPrevented = False
        self.target: Any = None
        for name, value in fields.items():
            setattr(self, name, value)

    def preventDefault(self) -> None:
        self.defaultPrevented = True


class Target:
    def __init__(self) -> None:
        self.listeners: dict[str, list[Any]] = {}

    def addEventListener(self, name: str, handler: Any) -> None:
        self.listeners.setdefault(name, []).append(handler)

    def removeEventListener(self, name: str, handler: Any) -> None:
        self.listeners.get(name, []).remove(handler)

    def dispatchEvent(self, event: Event) -> None:
        if event.target is None:
            event.target = self
        for handler in list(self.listeners.get(event.type, [])):
            handler(event)
        parent = getattr(self, "parent", None)
        if parent is not None and event.type in ("click", "submit"):
            parent.dispatchEvent(event)  # these bubble

    def fire(self, name: str, **fields: Any) -> Event:
        event = Event(name, **fields)
        self.dispatchEvent(event)
        return event


class Text:
    parent: Element | None = None

    def __init__(self, text: str) -> None:
        self.textContent = text


class Element(Target):
    def __init__(self, tag: str, attrs: dict[str, str] | None = None) -> None:
        super().__init__()
        self.tagName = tag
        self.attrs = dict(attrs or {})
        self.children: list[Element | Text] = []
        self.parent: Element | None = None
        self.dataset = Dataset(self)
        self.classList = ClassList(self)
        self.value = ""
        self.disabled = "disabled" in self.attrs
        self.open = False
        self.scrollTop = self.scrollHeight = self.clientHeight = 0
        self.title = ""

    # attributes
    def setAttribute(self, name: str, value: str) -> None:
        self.attrs[name] = str(value)

    def getAttribute(self, name: str) -> str | None:
        return self.attrs.get(name)

    def removeAttribute(self, name: str) -> None:
        self.attrs.pop(name, None)

    @property
    def id(self) -> str | None:
        return self.attrs.get("id")

    @property
    def hidden(self) -> bool:
        return "hidden" in self.attrs

    @hidden.setter
    def hidden(self, value: bool) -> None:
        if value:
            self.attrs["hidden"] = ""
        else:
            self.attrs.pop("hidden", None)

    # text
    @property
    def textContent(self) -> str:
        return "".join(child.textContent for child in self.children)

    @textContent.setter
    def textContent(self, value: str) -> None:
        self.replaceChildren(Text(str(value)) if value else None)

    # tree
    def appendChild(self, child: Any) -> Any:
        if isinstance(child, Element) and child.tagName == "#fragment":
            for grandchild in list(child.children):
                self.appendChild(grandchild)
            return child
        if child.parent is not None:  # a move is a removal, then an insertion, as in a browser
            _lose_focus_within(child)
            child.parent.children.remove(child)
        child.parent = self
        self.children.append(child)
        return child

    def insertBefore(self, child: Any, before: Any) -> Any:
        if before is None:  # the DOM's rule: before nothing is at the end
            return self.appendChild(child)
        self.appendChild(child)
        self.children.remove(child)
        self.children.insert(self.children.index(before), child)
        return child

    @property
    def firstChild(self) -> Any:
        return self.children[0] if self.children else None

    @property
    def nextSibling(self) -> Any:
        if self.parent is None:
            return None
        siblings = self.parent.children
        at = siblings.index(self) + 1
        return siblings[at] if at < len(siblings) else None

    def after(self, *nodes: Any) -> None:
        parent = self.parent
        for offset, node in enumerate(nodes, start=1):
            if node.parent is not None:
                _lose_focus_within(node)
                node.parent.children.remove(node)
            node.parent = parent
            parent.children.insert(parent.children.index(self) + offset, node)

    def replaceChildren(self, *children: Any) -> None:
        for child in self.children:
            _lose_focus_within(child)
            child.parent = None
        self.children = []
        for child in children:
            if child is not None:
                self.appendChild(child)

    def remove(self) -> None:
        if self.parent is not None:
            _lose_focus_within(self)
            self.parent.children.remove(self)
            self.parent = None

    def elements(self) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, Element):
                found.append(child)
                found += child.elements()
        return found

    def querySelectorAll(self, selector: str) -> list[Element]:
        return [e for e in self.elements() if matches(e, selector)]

    def querySelector(self, selector: str) -> Element | None:
        found = self.querySelectorAll(selector)
        return found[0] if found else None

    def contains(self, other: Element | None) -> bool:
        node = other
        while node is not None and node is not self:
            node = node.parent
        return node is self

    def closest(self, selector: str) -> Element | None:
        node: Element | None = self
        while node is not None and not matches(node, selector):
            node = node.parent
        return node

    # behaviour
    def focus(self) -> None:
        document.activeElement = self

    def requestSubmit(self) -> None:
        self.fire("submit")


def _lose_focus_within(node: Any) -> None:
    """A browser's focus fixup: removing the focused element (or its ancestor) from the
    document leaves the focus on the body."""
    focused = document.activeElement
    if isinstance(node, Element) and focused is not None and node.contains(focused):
        document.activeElement = document.body


SIMPLE = re.compile(
    r"([a-z0-9]+)|#([\w-]+)|\.([\w-]+)|\[([\w-]+)(?:=\"([^\"]*)\")?\]|(:not\(:empty\))"
)


def _compound(element: Element, compound: str) -> bool:
    position = 0
    for match in SIMPLE.finditer(compound):
        if match.start() != position:
            raise ValueError(f"fakejs cannot read the selector {compound!r}")
        position = match.end()
        tag, ident, cls, attr, value, not_empty = match.groups()
        if tag and element.tagName != tag:
            return False
        if ident and element.id != ident:
            return False
        if cls and not element.classList.contains(cls):
            return False
        if attr and (
            attr not in element.attrs or (value is not None and element.attrs[attr] != value)
        ):
            return False
        if not_empty and not element.children:
            return False
    if position != len(compound):
        raise ValueError(f"fakejs cannot read the selector {compound!r}")
    return True


def matches(element: Element, selector: str) -> bool:
    """Compound selectors joined by descendant spaces (no space inside brackets)."""
    *ancestors, last = selector.split()
    if not _compound(element, last):
        return False
    node = element.parent
    for compound in reversed(ancestors):
        while node is not None and not _compound(node, compound):
            node = node.parent
        if node is None:
            return False
        node = node.parent
    return True


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("#document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].appendChild(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID and len(self.stack) > 1:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip() and self.stack[-1].tagName not in ("script", "mpy-config"):
            self.stack[-1].appendChild(Text(data.strip()))


class Document(Element):
    def __init__(self) -> None:
        super().__init__("#document")
        builder = _Builder()
        builder.feed(INDEX.read_text())
        self.documentElement = builder.root.querySelector("html")
        self.documentElement.parent = self
        self.children = [self.documentElement]
        self.body = self.querySelector("body")
        self.activeElement: Element | None = None
        self.visibilityState = "visible"

    def getElementById(self, element_id: str) -> Element | None:
        return self.querySelector(f"#{element_id}")

    def createElement(self, tag: str) -> Element:
        return Element(tag)

    def createTextNode(self, text: str) -> Text:
        return Text(text)

    def createDocumentFragment(self) -> Element:
        return Element("#fragment")


class Storage:
    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def getItem(self, key: str) -> str | None:
        return self.items.get(key)

    def setItem(self, key: str, value: str) -> None:
        self.items[key] = str(value)

    def removeItem(self, key: str) -> None:
        self.items.pop(key, None)


class WebSocket:
    made: ClassVar[list[WebSocket]] = []

    def __init__(self, url: str) -> None:
        self.url = url
        self.readyState = 0
        self.sent: list[str] = []
        self.closed_with: tuple[int, str] | None = None
        self.onopen = self.onmessage = self.onclose = None
        WebSocket.made.append(self)

    @classmethod
    def new(cls, url: str) -> WebSocket:
        return cls(url)

    def send(self, data: str) -> None:
        assert self.readyState == 1, "sent on a socket that is not open"
        self.sent.append(data)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed_with = (code, reason)
        self.readyState = 3

    # the test plays the server
    def server_opens(self) -> None:
        self.readyState = 1
        self.onopen(Event("open"))

    def server_sends(self, text: str) -> None:
        self.onmessage(Event("message", data=text))

    def server_closes(self, code: int) -> None:
        self.readyState = 3
        self.onclose(Event("close", code=code))


class Response:
    def __init__(self, status: int, text: str = "", headers: dict | None = None) -> None:
        self.status = status
        self.ok = 200 <= status < 300
        self._text = text
        self.headers = headers or {}

    async def text(self) -> str:
        return self._text


class Url:
    def __init__(self, path: str, base: str) -> None:
        origin = re.match(r"(\w+:)//([^/]+)", base)
        self.protocol, self.host = origin.group(1), origin.group(2)
        self.path = base[origin.end() :].rsplit("/", 1)[0] + "/" + path
        self.search = ""

    @property
    def href(self) -> str:
        return f"{self.protocol}//{self.host}{self.path}{self.search}"


class Proxy:
    live: int = 0

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.destroyed = False
        Proxy.live += 1

    def __call__(self, *args: Any) -> Any:
        assert not self.destroyed, "a destroyed proxy was called"
        return self.function(*args)

    def destroy(self) -> None:
        assert not self.destroyed, "destroyed twice"
        self.destroyed = True
        Proxy.live -= 1


class AbortError(Exception):
    """The DOMException a lock request rejects with when aborted or stolen."""


def _settle(future: asyncio.Future, value: Any = None, error: Exception | None = None) -> None:
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)


class AbortSignal:
    def __init__(self) -> None:
        self.aborted = False
        self.on_abort: list[Callable[[], None]] = []


class AbortController:
    def __init__(self) -> None:
        self.signal = AbortSignal()

    @classmethod
    def new(cls) -> AbortController:
        return cls()

    def abort(self) -> None:
        if not self.signal.aborted:
            self.signal.aborted = True
            for callback in self.signal.on_abort:
                callback()


class Promise:
    @staticmethod
    def withResolvers() -> types.SimpleNamespace:
        future = asyncio.get_event_loop().create_future()
        return types.SimpleNamespace(
            promise=future,
            resolve=lambda value=None: _settle(future, value),
            reject=lambda error=None: _settle(future, error=AbortError(str(error))),
        )


class _LockRequest:
    def __init__(self, callback: Any, future: asyncio.Future) -> None:
        self.callback = callback
        self.future = future


class LockManager:
    """``navigator.locks``: exclusive locks by name, granted in request order."""

    def __init__(self) -> None:
        self.held: dict[str, _LockRequest] = {}
        self.queues: dict[str, list[_LockRequest]] = {}

    def request(self, name: str, options: dict, callback: Any) -> asyncio.Future:
        request = _LockRequest(callback, asyncio.get_event_loop().create_future())
        if options.get("steal"):
            stolen = self.held.pop(name, None)
            if stolen is not None:
                _settle(stolen.future, error=AbortError("stolen"))
            self._grant(name, request)
            return request.future
        signal = options.get("signal")
        if signal is not None:
            signal.on_abort.append(lambda: self._withdraw(name, request))
        self.queues.setdefault(name, []).append(request)
        self._next(name)
        return request.future

    def holder(self, name: str) -> Any:
        request = self.held.get(name)
        return request.callback if request is not None else None

    def _withdraw(self, name: str, request: _LockRequest) -> None:
        queue = self.queues.get(name, [])
        if request in queue:
            queue.remove(request)
            _settle(request.future, error=AbortError("aborted"))

    def _next(self, name: str) -> None:
        queue = self.queues.get(name, [])
        if name not in self.held and queue:
            self._grant(name, queue.pop(0))

    def _grant(self, name: str, request: _LockRequest) -> None:
        self.held[name] = request
        asyncio.get_event_loop().call_soon(self._run, name, request)

    def _run(self, name: str, request: _LockRequest) -> None:
        if self.held.get(name) is not request:
            return  # stolen before its callback ran
        held = request.callback(types.SimpleNamespace(name=name))
        asyncio.ensure_future(held).add_done_callback(
            lambda done: self._released(name, request, done)
        )

    def _released(self, name: str, request: _LockRequest, done: asyncio.Future) -> None:
        if self.held.get(name) is request:
            del self.held[name]
            _settle(request.future, done.result())
            self._next(name)


class BroadcastChannel:
    open: ClassVar[list[BroadcastChannel]] = []

    def __init__(self, name: str) -> None:
        self.name = name
        self.onmessage: Any = None
        self.posted: list[Any] = []
        self.closed = False
        BroadcastChannel.open.append(self)

    @classmethod
    def new(cls, name: str) -> BroadcastChannel:
        return cls(name)

    def postMessage(self, data: Any) -> None:
        assert not self.closed, "posted on a closed channel"
        self.posted.append(data)
        for other in BroadcastChannel.open:
            if other is not self and other.name == self.name:
                asyncio.get_event_loop().call_soon(other._deliver, data)

    def _deliver(self, data: Any) -> None:
        if not self.closed and self.onmessage is not None:
            self.onmessage(Event("message", data=data))

    def close(self) -> None:
        self.closed = True
        BroadcastChannel.open.remove(self)


class OtherTab:
    """Another tab of the same user, played by the test: it talks on the channel and can
    hold or steal the lock."""

    def __init__(self, name: str) -> None:
        self.channel = BroadcastChannel(name)
        self.heard: list[Any] = []
        self.channel.onmessage = lambda event: self.heard.append(event.data)
        self.name = name
        self._release: Callable[[], None] | None = None
        self.lost: asyncio.Future | None = None

    def say(self, data: Any) -> None:
        self.channel.postMessage(data)

    def take_lock(self, steal: bool = False) -> None:
        resolvers = Promise.withResolvers()
        self._release = resolvers.resolve
        self.lost = js.navigator.locks.request(
            self.name, {"steal": True} if steal else {}, lambda _lock: resolvers.promise
        )

    def release_lock(self) -> None:
        assert self._release is not None
        self._release()


FetchHandler = Callable[[str, dict | None], Awaitable[Response]]


async def _no_server(url: str, options: dict | None) -> Response:
    raise OSError(f"fakejs: nothing answers {url}")


js = types.ModuleType("js")
pyodide = types.ModuleType("pyodide")
ffi = types.ModuleType("pyodide.ffi")
ffi.create_proxy = Proxy
ffi.to_js = lambda value, dict_converter=None: value
pyodide.ffi = ffi
document: Document


def reset(
    url: str = "http://127.0.0.1:8000/", online: bool = True, shared: bool = False
) -> types.ModuleType:
    """A fresh page: the real index.html, empty storage, no requests, no sockets; with
    ``shared``, Web Locks and ``BroadcastChannel`` too."""
    global document
    document = Document()
    window = Target()
    window.matchMedia = lambda query: types.SimpleNamespace(matches=False)
    search = url.partition("?")[2]
    js.__dict__.update(
        document=document,
        window=window,
        localStorage=Storage(),
        sessionStorage=Storage(),
        console=types.SimpleNamespace(
            lines=[],
            info=lambda line: js.console.lines.append(("info", line)),
            warn=lambda line: js.console.lines.append(("warn", line)),
        ),
        performance=types.SimpleNamespace(
            marks=[], mark=lambda name: js.performance.marks.append(name)
        ),
        location=types.SimpleNamespace(
            href=url,
            search=f"?{search}" if search else "",
            protocol=url.split("//")[0],
            origin=re.match(r"\w+://[^/]+", url).group(),
        ),
        navigator=types.SimpleNamespace(onLine=online, locks=LockManager() if shared else None),
        BroadcastChannel=BroadcastChannel if shared else None,
        AbortController=AbortController,
        Promise=Promise,
        URL=types.SimpleNamespace(new=Url),
        URLSearchParams=types.SimpleNamespace(
            new=lambda query: types.SimpleNamespace(
                get=lambda key: dict(
                    p.partition("=")[::2] for p in query.lstrip("?").split("&") if p
                ).get(key)
            )
        ),
        WebSocket=WebSocket,
        AbortSignal=types.SimpleNamespace(timeout=lambda ms: ("timeout", ms)),
        Object=types.SimpleNamespace(fromEntries=dict),
        Event=types.SimpleNamespace(new=Event),
        fetch_handler=_no_server,
        requests=[],
    )

    async def fetch(url: str, options: dict | None = None) -> Response:
        js.requests.append((url, options))
        return await js.fetch_handler(url, options)

    js.fetch = fetch
    WebSocket.made = []
    BroadcastChannel.open = []
    return js


reset()
