"""`xflow:send-email` through Django's mail machinery (needs the Django settings)."""

from __future__ import annotations

import pytest

SEND_EMAIL = {"name": "mail", "type": "custom", "operation": "xflow:send-email"}


@pytest.fixture
def outbox(request):
    """pytest-django's locmem `mailoutbox`; skipped when run with `-p no:django`."""
    if not request.config.pluginmanager.hasplugin("django"):
        pytest.skip("needs pytest-django and the project's settings")
    return request.getfixturevalue("mailoutbox")


def test_send_email_delivers_text_and_html(call, outbox, settings):
    # Given a message with cc and both a text and an html part
    settings.DEFAULT_FROM_EMAIL = "xflow@example.com"
    arguments = {
        "to": "Ann <ann@example.com>, bob@example.com",
        "cc": ["carol@example.com"],
        "subject": "Leave approved",
        "body": "Enjoy!",
        "html": "<p>Enjoy!</p>",
    }

    # When the built-in runs
    result = call(SEND_EMAIL, arguments)

    # Then one email went out with every recipient and both parts
    assert result["sent"] == 1
    [mail] = outbox
    assert mail.to == ["Ann <ann@example.com>", "bob@example.com"]
    assert mail.cc == ["carol@example.com"]
    assert mail.from_email == "xflow@example.com"
    assert mail.subject == "Leave approved" and mail.body == "Enjoy!"
    assert mail.alternatives[0][0] == "<p>Enjoy!</p>"


def test_send_email_rejects_bad_input(call_error, outbox):
    # Given an invalid address, a missing subject, a multi-line subject, no content
    base = {"to": "ann@example.com", "subject": "Hi", "body": "x"}

    # When each is sent
    bad_address = call_error(SEND_EMAIL, {**base, "to": ["ann@example.com", "not-an-address"]})
    no_subject = call_error(SEND_EMAIL, {**base, "subject": ""})
    injected = call_error(SEND_EMAIL, {**base, "subject": "Hi\nBcc: x@evil.test"})
    no_body = call_error(SEND_EMAIL, {"to": "ann@example.com", "subject": "Hi"})

    # Then nothing is sent and the codes say what is wrong
    assert bad_address["code"] == "InvalidEmailAddress"
    assert "not-an-address" in bad_address["message"]
    assert {no_subject["code"], injected["code"], no_body["code"]} == {"InvalidArguments"}
    assert outbox == []
