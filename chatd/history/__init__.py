"""
History: what was said, kept in the store and read back.

L{items} turns the core's value events into the store's records and back;
L{log} batches the writes and answers reads (including what is not written
yet); L{reader} decides, through the core's rules, what a user may read;
L{service} runs it all (the flush timer, expiry) in the daemon.
"""
