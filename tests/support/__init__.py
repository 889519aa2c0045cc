"""What the tests share, in one place; a test module imports helpers only from here (and fixtures
from ``tests/conftest.py``), never from another test module (tests/test_layout.py checks it).

- ``conversation``: the chat driver of ChatService, the scripted registration and interview, the
  help-request intake, the stored answers;
- ``clock``: the fixed day of the suite and a clock tests move;
- ``channels``: respondents on WhatsApp (signed Twilio webhooks), Telegram (PTB updates with the
  secret header) and the web simulator, and the Twilio provider on the loopback fake;
- ``panel``: the staff password of the panel tests, signing in, the CSRF field;
- ``processes``: the ``m360`` command as a subprocess, its environment, a free port, /health;
- ``phone``: a WhatsApp number Twilio delivers to a served ``m360`` over real HTTP, retrying;
- ``data``: data builders (imported interviews, directory contacts, the seed001 folder);
- ``parsing_cases``: the parsing table and its questionnaire (also timed by bench/hotpaths.py);
- ``browser``: Debian's Chromium for Playwright;
- ``fakes``: loopback fakes of the Twilio and Telegram APIs, and ``block_internet``;
- ``pgserver``, ``redisserver``: throwaway PostgreSQL and Redis servers;
- ``coding``: the fixture codebook of the coder tests and the product models.
"""
