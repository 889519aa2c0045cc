"""The ``m360`` command line, one module per command group.

``root`` is the ``m360`` group. It names the module of each command and imports it only when that
command runs, so ``m360 --help`` and the commands cron runs (``wave tick``, ``alerts check``,
``outbox send``) load what they use and nothing else. ``common`` holds what the modules share: the
database a command works on, migrated once, the first time the command touches it (after its
arguments are checked); the actor; URLs shown without passwords; writing a report or an export.

A module imports what it uses at the top, except a heavy library only some of its commands need
(pandas for ``tickets report`` and ``wave results``, Flask for ``serve`` but not ``worker``): that
one is imported inside the command, with a comment saying why.
"""
