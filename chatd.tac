# The chatd server with its default options: twistd -ny chatd.tac
# (the same as `twistd -n chatd`; edit the option list to change them).
from twisted.application import service

from chatd.tap import Options, makeService

options = Options()
options.parseOptions([])
application = service.Application("chatd")
makeService(options).setServiceParent(application)
