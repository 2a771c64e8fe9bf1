"""
The JSON-lines codec on its own: timestamps, encoding, and encode-once.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from chatd.core import Joined, Message, Origin
from chatd.jsonproto import codec

#: Who acted, for events (JSON shows only the nick).
SOURCE = Origin("alice", "~a", "127.0.0.1")


class TimestampTests(SynchronousTestCase):
    def test_format(self) -> None:
        self.assertEqual(codec.format_ts(1795514400.123), "2026-11-24T10:00:00.123Z")
        self.assertEqual(codec.format_ts(0), "1970-01-01T00:00:00.000Z")
        # Milliseconds are truncated, never rounded up into the next second.
        self.assertEqual(codec.format_ts(1795514400.9999), "2026-11-24T10:00:00.999Z")


class EncodeTests(SynchronousTestCase):
    def test_one_compact_utf8_line(self) -> None:
        line = codec.encode({"type": "x", "text": "héllo\nworld 🎉"})
        self.assertTrue(line.endswith(b"\n"))
        self.assertEqual(line.count(b"\n"), 1)
        self.assertIn("héllo".encode(), line)
        self.assertEqual(json.loads(line)["text"], "héllo\nworld 🎉")

    def test_lone_surrogate_falls_back_to_escapes(self) -> None:
        line = codec.encode({"id": "\ud800"})
        self.assertEqual(line, b'{"id":"\\ud800"}\n')

    def test_event_is_encoded_once(self) -> None:
        message = Message(SOURCE, "1", 0.5, "#a", "hi")
        first = codec.encode_event(message)
        self.assertIs(codec.encode_event(message), first)
        self.assertEqual(
            json.loads(first),
            {
                "type": "message",
                "from": "alice",
                "to": "#a",
                "text": "hi",
                "ts": "1970-01-01T00:00:00.500Z",
                "msgid": "1",
            },
        )
        self.assertEqual(
            json.loads(
                codec.encode_event(Joined(SOURCE._replace(nick="bob"), "2", 0.0, "#a"))
            ),
            {"type": "join", "channel": "#a", "nick": "bob"},
        )

    def test_notice_flag(self) -> None:
        self.assertTrue(
            json.loads(
                codec.encode_event(Message(SOURCE, "3", 0, "b", "t", notice=True))
            )["notice"]
        )
        self.assertNotIn(
            "notice", json.loads(codec.encode_event(Message(SOURCE, "4", 0, "b", "t")))
        )


class DecodeTests(SynchronousTestCase):
    def test_request(self) -> None:
        request = codec.decode(b'{"cmd":"msg","id":"a","to":"#x","text":"hi"}')
        self.assertEqual(
            (request.cmd, request.request_id, request.args["text"]), ("msg", "a", "hi")
        )

    def test_errors(self) -> None:
        for line, code in [
            (b"\xc3\x28", "bad_encoding"),
            (b"{", "bad_json"),
            (b'{"a":NaN}', "bad_json"),
            (b"[" * 3000, "bad_json"),
            (b"1", "bad_request"),
            (b'{"id":true}', "bad_request"),
            (b'{"id":' + b"1" * 4301 + b"}", "bad_request"),
        ]:
            e = self.assertRaises(codec.DecodeError, codec.decode, line)
            self.assertEqual(e.code, code, line)
