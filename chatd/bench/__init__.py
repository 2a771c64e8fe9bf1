# -*- test-case-name: tests.test_bench -*-
"""
chatd-bench: a load generator for chatd and other IRC servers.

L{chatd.bench.load} drives clients over real sockets (JSON lines or IRC,
over TCP or WebSocket: L{chatd.bench.websocket}) from one thread with
C{epoll}; L{chatd.bench.servers} starts the servers
under test pinned to their own core; L{chatd.bench.ceiling} is the bare
Twisted broadcast server that is the ceiling chatd is measured against;
L{chatd.bench.cli} is the C{chatd-bench} command.
"""
