# -*- test-case-name: tests.test_bench -*-
"""
C{chatd-bench soak}: hundreds of clients doing random legitimate and
abusive things to one chatd for a while, then a verdict.

The server is started here, on loopback, with its default limits (only
the registration timeout is shortened, so that silent clients are seen
within the run).  The clients run in this process on Twisted's reactor,
each from one of many loopback addresses, in roles:

 - I{readers} join C{#soak} first, read everything and stay to the end;
 - I{talkers} say numbered messages to C{#soak} and chatter elsewhere, join
   and leave rooms, change nicks, set topics, burst now and then (JSON ones
   honour C{retry_after}), and sometimes vanish with a TCP reset, quit, or
   half-close; a new talker takes each one's place;
 - I{flooders} join and then send a flood at once, ignoring what they are
   told, until they are disconnected for it;
 - I{never-readers} join C{#soak} with a tiny receive buffer and never
   read; half of them also ask for big replies they never read;
 - I{garbage senders} send random bytes, invalid UTF-8, bad requests,
   overlong lines and half lines, mixed with real messages;
 - I{silent registrants} connect and never choose a nick (or only half);
 - a I{connection storm} comes in waves from one address of its own.

Every message to C{#soak} carries its sender's stream and sequence number,
and its text is a function of the two, so each reader can tell what it
got, in which order, and whether it arrived whole.  At the end the run
checks that every message that got an C{ok} (IRC: the C{echo-message}
echo) reached every reader once and in order; that the server answered
every talker's message, in order, and acknowledged none that was not sent;
that honest clients were never refused, disconnected or given an error
they should not get; that every client could connect and all had gone
after the end; that each abuse met its limit; that every line the server
wrote was well formed; that the server is empty and consistent afterwards
(its own check at shutdown included), its log has no traceback, and its
memory went back near where it started.  Everything the run records
against the server fails one of these checks.

The modules, by what they hold:

 - L{options}: the options, the channels, the roles' shares and budgets;
 - L{wire}: the numbered texts, and reading the server's lines;
 - L{conns}: the client connections (JSON, IRC) and how one is made;
 - L{session}: what every role shares; L{honest}: readers and talkers;
   L{abusers}: flooders, never-readers, silent registrants, the storm's
   clients; L{garbage}: the garbage senders;
 - L{records}: what the run keeps, as the sessions write it;
 - L{checks}: the verdict, each check a function over the records;
 - L{run}: the server's arguments, the schedule and the timeline;
   L{report}: the result and what is printed.
"""

from chatd.bench.soak.checks import check_deliveries
from chatd.bench.soak.options import Options, role_counts
from chatd.bench.soak.report import summary
from chatd.bench.soak.run import run
from chatd.bench.soak.wire import stamped

__all__ = [
    "Options",
    "check_deliveries",
    "role_counts",
    "run",
    "stamped",
    "summary",
]
