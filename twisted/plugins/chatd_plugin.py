"""
Tells twistd about chatd; the server itself is imported only when run.
"""

from twisted.application.service import ServiceMaker

chatd = ServiceMaker(
    "chatd",
    "chatd.tap",
    "A multi-client chat server speaking JSON lines",
    "chatd",
)
