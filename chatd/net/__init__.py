"""
Twisted plumbing every wire adapter shares: the connection base, the
listener (factory), flood and admission limits, and the SendQ watch.
"""
