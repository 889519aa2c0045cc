"""``python -m bot.cli``: the ``m360`` command without its console script."""

from bot.cli.root import main

main()
