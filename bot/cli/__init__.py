"""The ``m360`` command line, one module per command group.

``root`` is the ``m360`` group and registers the others; ``common`` holds what they share (the
database a command works on, migrated once on first use; the actor; URLs without passwords).
Modules import what they use at the top, except what ``m360 --help`` must not pay for (pandas,
spaCy, Flask, python-telegram-bot): those are imported inside the command, with a comment.
"""
