# -*- test-case-name: tests.accounts -*-
"""
Accounts' building blocks, free of any wire: password hashes, SCRAM
credentials, SASL mechanisms as state machines, login and registration
throttles, name and password rules, and a bounded pool that hashes off the
reactor thread.  The IRC and JSON adapters wire them up.

  - L{passwords}: scrypt password hashes (C{$scrypt$...})
  - L{saslprep}: RFC 4013 preparation of passwords before they are hashed
  - L{scram}: SCRAM-SHA-256 stored credentials and the server's exchange
  - L{sasl}: the PLAIN and SCRAM-SHA-256 mechanisms
  - L{throttle}: failed logins and registrations per account and address
  - L{validation}: what an account name and a password may be
  - L{hasher}: hashing in a bounded thread pool
"""
