"""
The JSON protocol: its codec, the session that runs its commands over the
core, and its framings (lines over TCP today).
"""
