"""mitmproxy addon for the side-by-side benchmark (bench/run).

mitmproxy stands in for "a proxy that looks inside every frame", like wsproxy does: each
WebSocket text message is parsed as JSON and its "type" counted. The frame is forwarded
unchanged. Loaded with: mitmdump --mode reverse:http://127.0.0.1:PORT -s bench/mitm_addon.py
"""
import json
import logging

from mitmproxy import http


class JsonInspect:
    def __init__(self) -> None:
        self.types: dict[str, int] = {}
        self.invalid = 0
        self.binary = 0

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        assert flow.websocket is not None
        message = flow.websocket.messages[-1]
        if not message.is_text:
            self.binary += 1
            return
        try:
            obj = json.loads(message.text)
        except ValueError:
            self.invalid += 1
            return
        kind = obj.get("type") if isinstance(obj, dict) else None
        key = kind if isinstance(kind, str) else "other"
        self.types[key] = self.types.get(key, 0) + 1

    def done(self) -> None:
        logging.warning("mitm_addon: frames by type %s, invalid %d, binary %d",
                        self.types, self.invalid, self.binary)


addons = [JsonInspect()]
