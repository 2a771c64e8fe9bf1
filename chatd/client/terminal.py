# -*- test-case-name: tests.test_client -*-
"""
The client's front end on a terminal: L{TerminalUI}, a L{HistoricRecvLine}
under an insults L{ServerProtocol}, in raw mode.  It keeps the line being
typed at the bottom, prints incoming lines above it, and gives line editing
and Up/Down history.  (In a pipe, L{chatd.client.piped} reads plain lines.)
"""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from typing import Any, Callable

from twisted.conch.insults import insults
from twisted.conch.recvline import HistoricRecvLine
from twisted.internet import stdio
from twisted.python.failure import Failure

from chatd.client.accounts import history_form, secret_spans
from chatd.client.formatting import (
    BOLD,
    ITALIC,
    RESET,
    REVERSE,
    UNDERLINE,
    printable,
)
from chatd.client.session import ChatClient
from chatd.client.tls import TLS

CTRL_A = b"\x01"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
CTRL_E = b"\x05"
CTRL_H = b"\x08"
CTRL_K = b"\x0b"
CTRL_L = b"\x0c"
CTRL_U = b"\x15"
CTRL_W = b"\x17"

# Keys that type a formatting code, as in irssi: Ctrl-B bold, Ctrl-] italic,
# Ctrl-_ (Ctrl-/ in most terminals) underline, Ctrl-V reverse, Ctrl-O reset.
# Each code shows in the input line as one reverse-video letter.
FORMAT_KEYS = {
    BOLD.encode(): b"B",
    ITALIC.encode(): b"I",
    UNDERLINE.encode(): b"U",
    REVERSE.encode(): b"V",
    RESET.encode(): b"O",
}


def _chars(data: bytes) -> list[bytes]:
    """C{data} split into whole UTF-8 characters (one terminal cell each)."""
    return [ch.encode("utf-8") for ch in data.decode("utf-8", "replace")]


def _cells(chars: list[bytes]) -> bytes:
    """
    Typed characters as drawn: each formatting code as a reverse letter (and
    back to plain, which the rest of the input line is).
    """
    return b"".join(
        b"\x1b[7m" + FORMAT_KEYS[ch] + b"\x1b[0m" if ch in FORMAT_KEYS else ch
        for ch in chars
    )


def _masked(chars: list[bytes]) -> list[bytes]:
    """Typed characters with the passwords' replaced by C{*}."""
    spans = secret_spans(b"".join(chars).decode("utf-8", "replace"))
    if not spans:
        return chars
    shown = list(chars)
    for start, end in spans:
        shown[start:end] = [b"*"] * (end - start)
    return shown


def _history_form(line: bytes) -> bytes:
    """A typed line as the history keeps it: without its passwords."""
    text = line.decode("utf-8", "replace")
    kept = history_form(text)
    return line if kept == text else kept.encode("utf-8")


def _prompt(client: ChatClient) -> bytes:
    return printable(client.prompt()).encode("utf-8", "backslashreplace")


class TerminalUI(HistoricRecvLine):
    """
    The input line at the bottom of a terminal, with the client's output
    scrolling above it.  Passwords typed in it are drawn as C{*}, and the
    history keeps the lines that had them without them.

    C{show} erases the input line, writes the output line, and draws the
    prompt and the half-typed input again with the cursor where it was, so
    typing is never clobbered.
    """

    def __init__(self, client: ChatClient, on_close: Callable[[], None]) -> None:
        self.client = client
        self.on_close = on_close
        self._utf8 = b""
        prompt = _prompt(client)
        self.ps = (prompt, prompt)

    def connectionMade(self) -> None:
        super().connectionMade()
        self.keyHandlers.update(
            {
                CTRL_A: self.handle_HOME,
                CTRL_C: self.handle_INT,
                CTRL_D: self.handle_EOF,
                CTRL_E: self.handle_END,
                CTRL_H: self.handle_BACKSPACE,
                CTRL_K: self.handle_KILL_END,
                CTRL_L: self.handle_REDRAW,
                CTRL_U: self.handle_KILL_LINE,
                CTRL_W: self.handle_KILL_WORD,
            }
        )
        for key in FORMAT_KEYS:
            self.keyHandlers[key] = partial(self.characterReceived, key, False)

    def initializeScreen(self) -> None:
        # Unlike RecvLine's, do not reset (clear) the terminal: what was on
        # the screen before stays in the scrollback.  Edits redraw the line,
        # so the terminal's insert mode (IRM) is not needed either, and a
        # crash cannot leave the terminal in it.
        self.mode = "insert"
        self.terminal.write(self.ps[self.pn])

    def handle_INSERT(self) -> None:
        self.mode = "typeover" if self.mode == "insert" else "insert"

    # Output.

    def show(self, text: str) -> None:
        """
        Print one line above the input line.  The line has no control
        characters but the SGR sequences of L{to_ansi}, which end with a
        reset: the input line's cursor arithmetic counts the prompt and the
        input only, so escape sequences in output do not disturb it.
        """
        self._erase_input()
        self.terminal.write(text.encode("utf-8", "backslashreplace") + b"\n")
        self._draw_input()

    def refresh(self) -> None:
        """Draw the prompt again if it has changed (nick, channel, connection)."""
        prompt = _prompt(self.client)
        if prompt != self.ps[0]:
            self._erase_input()
            self.ps = (prompt, prompt)
            self._draw_input()

    def _erase_input(self) -> None:
        """
        Erase the prompt and input, also when they wrap over several rows
        (with the cursor at the end of the input, where it mostly is).
        """
        column = len(self.ps[self.pn].decode("utf-8", "replace"))
        column += self.lineBufferIndex
        at_end = self.lineBufferIndex == len(self.lineBuffer)
        # After the last column a terminal keeps the cursor on that row
        # until the next character comes.
        rows = (max(column - 1, 0) if at_end else column) // max(self.width, 1)
        self.terminal.write(b"\r")
        if rows:
            self.terminal.cursorUp(rows)
        self.terminal.eraseToDisplayEnd()

    def _draw_input(self) -> None:
        """Draw prompt and input, and put the cursor where the index is."""
        self.terminal.write(self.ps[self.pn] + _cells(_masked(self.lineBuffer)))
        if self.lineBufferIndex == len(self.lineBuffer):
            return
        width = max(self.width, 1)
        prompt = len(self.ps[self.pn].decode("utf-8", "replace"))
        end_row = (prompt + len(self.lineBuffer) - 1) // width
        row, column = divmod(prompt + self.lineBufferIndex, width)
        # Relative moves only: the cursor's row on the screen is unknown.
        self.terminal.write(b"\r")
        if end_row > row:
            self.terminal.cursorUp(end_row - row)
        if column:
            self.terminal.cursorForward(column)

    def drawInputLine(self) -> None:
        # RecvLine's, on a terminal resize, writes the codes themselves.
        self._draw_input()

    def _redraw(self, change: Callable[[], None]) -> None:
        """
        Apply an edit and draw the input again.  RecvLine's in-place cursor
        moves and inserts go wrong once the input wraps past the terminal's
        width; a redraw of one line is cheap.
        """
        self._erase_input()
        change()
        self._draw_input()

    def _set_line(self, data: bytes) -> None:
        self.lineBuffer = _chars(data)
        self.lineBufferIndex = len(self.lineBuffer)

    def close(self) -> None:
        """Leave the terminal as it was: no prompt, insert mode off."""
        self._erase_input()
        transport = self.terminal.transport
        if transport is not None:
            transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:
        self.on_close()

    # Input.

    def keystrokeReceived(self, keyID: Any, modifier: Any) -> None:
        if isinstance(keyID, bytes) and len(keyID) == 1 and keyID[0] >= 0x80:
            # One byte of a UTF-8 character: wait for the whole character.
            self._utf8 += keyID
            try:
                ch = self._utf8.decode("utf-8")
            except UnicodeDecodeError as e:
                if e.reason == "unexpected end of data" and len(self._utf8) < 4:
                    return
                ch = "\ufffd"
            self._utf8 = b""
            self.characterReceived(ch.encode("utf-8"), False)
            return
        self._utf8 = b""
        if keyID in self.keyHandlers or (
            isinstance(keyID, bytes)
            and len(keyID) == 1
            and keyID in self._printableChars
        ):
            super().keystrokeReceived(keyID, modifier)
        # Anything else (function keys, Alt combinations) is ignored.

    def characterReceived(self, ch: bytes, moreCharactersComing: bool) -> None:
        typed = b"".join(self.lineBuffer)
        if (
            self.lineBufferIndex == len(self.lineBuffer)
            and not secret_spans(typed.decode("utf-8", "replace"))
            and not secret_spans((typed + ch).decode("utf-8", "replace"))
        ):
            # Typing at the end, the usual case: the terminal echoes it (but
            # a password is drawn again as it changes).
            self.lineBuffer.append(ch)
            self.lineBufferIndex += 1
            self.terminal.write(_cells([ch]))
            return

        def change() -> None:
            index = self.lineBufferIndex
            if self.mode == "insert":
                self.lineBuffer.insert(index, ch)
            else:
                self.lineBuffer[index] = ch
            self.lineBufferIndex += 1

        self._redraw(change)

    def _move(self, index: int) -> None:
        index = max(0, min(index, len(self.lineBuffer)))
        if index != self.lineBufferIndex:
            self._redraw(lambda: setattr(self, "lineBufferIndex", index))

    def handle_LEFT(self) -> None:
        self._move(self.lineBufferIndex - 1)

    def handle_RIGHT(self) -> None:
        self._move(self.lineBufferIndex + 1)

    def handle_HOME(self) -> None:
        self._move(0)

    def handle_END(self) -> None:
        self._move(len(self.lineBuffer))

    def handle_TAB(self) -> None:
        self.characterReceived(b" ", False)

    def handle_BACKSPACE(self) -> None:
        if self.lineBufferIndex > 0:

            def change() -> None:
                self.lineBufferIndex -= 1
                del self.lineBuffer[self.lineBufferIndex]

            self._redraw(change)

    def handle_DELETE(self) -> None:
        if self.lineBufferIndex < len(self.lineBuffer):
            self._redraw(lambda: self.lineBuffer.pop(self.lineBufferIndex))

    def handle_UP(self) -> None:
        if self.historyPosition == 0:
            return
        if self.historyPosition == len(self.historyLines) and self.lineBuffer:
            # Keep the draft, as HistoricRecvLine does (but not its passwords).
            self.historyLines.append(_history_form(b"".join(self.lineBuffer)))

        def change() -> None:
            self.historyPosition -= 1
            self._set_line(self.historyLines[self.historyPosition])

        self._redraw(change)

    def handle_DOWN(self) -> None:
        def change() -> None:
            if self.historyPosition < len(self.historyLines) - 1:
                self.historyPosition += 1
                self._set_line(self.historyLines[self.historyPosition])
            else:
                self.historyPosition = len(self.historyLines)
                self._set_line(b"")

        self._redraw(change)

    def handle_RETURN(self) -> None:
        line = b"".join(self.lineBuffer)
        if line:
            self.historyLines.append(_history_form(line))
        self.historyPosition = len(self.historyLines)
        self._erase_input()
        self.lineBuffer = []
        self.lineBufferIndex = 0
        self._draw_input()
        self.client.handle_input(line.decode("utf-8", "replace"))

    def handle_EOF(self) -> None:
        if self.lineBuffer:
            self.handle_DELETE()
        else:
            self.client.input_ended()

    def handle_INT(self) -> None:
        self.client.interrupt()

    def handle_KILL_LINE(self) -> None:
        self._redraw(lambda: self._set_line(b""))

    def handle_KILL_WORD(self) -> None:
        """Ctrl-W: delete the word before the cursor, and the spaces after it."""
        end = self.lineBufferIndex
        start = end
        while start > 0 and self.lineBuffer[start - 1] in (b" ", b"\t"):
            start -= 1
        while start > 0 and self.lineBuffer[start - 1] not in (b" ", b"\t"):
            start -= 1
        if start == end:
            return

        def change() -> None:
            del self.lineBuffer[start:end]
            self.lineBufferIndex = start

        self._redraw(change)

    def handle_KILL_END(self) -> None:
        self._redraw(
            lambda: self.lineBuffer.__delitem__(slice(self.lineBufferIndex, None))
        )

    def handle_REDRAW(self) -> None:
        self.terminal.eraseDisplay()
        self.terminal.cursorHome()
        self._draw_input()


def _columns(fd: int) -> int:
    try:
        return os.get_terminal_size(fd).columns or 80
    except OSError:
        return 80


def run_terminal(
    reactor: Any,
    host: str,
    port: int,
    display: Callable[[str], str],
    stop: Callable[[], None],
    tls: TLS | None = None,
    nick: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> int:
    """Run the client in the terminal of standard input and output."""
    import termios
    import tty

    status: list[int] = []
    client = ChatClient(
        reactor,
        interactive=True,
        display=display,
        tls=tls,
        nick=nick,
        credentials=credentials,
    )
    terminal = insults.ServerProtocol(TerminalUI, client, stop)

    def finished(code: int) -> None:
        status.append(code)
        ui.close()

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        stdio.StandardIO(terminal, reactor=reactor)
        ui: TerminalUI = terminal.terminalProtocol  # type: ignore[assignment]
        client.output = ui.show
        client.changed = ui.refresh
        client.finished = finished
        ui.width = _columns(fd)
        signal.signal(signal.SIGWINCH, lambda *_: setattr(ui, "width", _columns(fd)))
        client.connect(host, port)
        reactor.run()
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)
    return status[0] if status else 0
