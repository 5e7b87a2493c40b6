"""A real SMTP server for the mail tests: it accepts every message and
stores it, parsed, as one JSON file per message in a directory.

    python smtp_sink.py --port 2525 --dir /tmp/received

Each file holds the envelope (mail_from, rcpt_tos), the decoded headers
(subject, from, to, message_id), the text and HTML parts, and the raw
message. Files appear whole (written aside, then renamed), named in order
of arrival. Recipients whose local part starts with "reject" are refused
with 550 (a permanent failure), with "tempfail" with 451 (a transient one).
"Ready" is printed once the server listens. Needs aiosmtpd.
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import signal
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("tempfail"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        def content(part):
            # Line ends as in the templates, not as on the wire.
            return part.get_content().replace("\r\n", "\n") if part is not None else None

        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(message.get("Subject", "")),
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "message_id": str(message.get("Message-ID", "")),
            "content_type": message.get_content_type(),
            "text": content(text),
            "html": content(html),
            "raw": raw.decode("utf-8", errors="replace"),
        }
        with self.lock:
            number = next(self.counter)
        name = "%06d.json" % number
        partial = os.path.join(self.directory, "." + name + ".partial")
        with open(partial, "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.replace(partial, os.path.join(self.directory, name))
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    # Numbering continues after the files already there (a restarted sink).
    existing = [f for f in os.listdir(args.dir) if f.endswith(".json")]
    sink = Sink(args.dir)
    sink.counter = itertools.count(len(existing) + 1)
    controller = Controller(sink, hostname=args.host, port=args.port, decode_data=False)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
