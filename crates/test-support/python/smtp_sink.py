"""SMTP sink for Switchboard's tests (driven by crates/test-support/src/smtp_sink.rs).

Listens on a free loopback port, prints that port on its first line of output, stores every
accepted message in a Maildir (new/<n>.eml, with the envelope in envelopes/<n>) and answers
with a chosen failure for recipients whose local part asks for one:

  reject...       550 5.1.1 at RCPT        defer...       451 4.3.0 at RCPT
  datareject...   554 5.6.0 after DATA     datadefer...   451 4.3.2 after DATA

It exits when its standard input closes, so it never outlives the test that started it.
"""

import asyncio
import os
import socket
import sys

from aiosmtpd.smtp import SMTP

RCPT_REPLIES = {
    "reject": "550 5.1.1 No such user here",
    "defer": "451 4.3.0 Try again later",
}
DATA_REPLIES = {
    "datareject": "554 5.6.0 Message refused",
    "datadefer": "451 4.3.2 Please try again later",
}


def fault(address, replies):
    local = address.split("@", 1)[0].lower()
    for prefix, reply in replies.items():
        if local.startswith(prefix):
            return reply
    return None


class Sink:
    def __init__(self, maildir):
        self.maildir = maildir
        self.count = 0
        for sub in ("tmp", "new", "cur", "envelopes"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        # "datareject" starts with neither RCPT prefix, so the RCPT table is checked second.
        if fault(address, DATA_REPLIES) is None:
            reply = fault(address, RCPT_REPLIES)
            if reply is not None:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            reply = fault(address, DATA_REPLIES)
            if reply is not None:
                return reply
        self.count += 1
        name = "%08d.eml" % self.count
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as file:
            file.write(envelope.original_content)
        with open(os.path.join(self.maildir, "envelopes", name), "w") as file:
            sender = "" if envelope.mail_from == "<>" else envelope.mail_from
            file.write("\n".join([sender] + list(envelope.rcpt_tos)))
        # Maildir delivery: written in tmp/, then renamed, so a reader never sees half a file.
        os.rename(tmp, os.path.join(self.maildir, "new", name))
        return "250 2.0.0 Ok: queued as SINK%08d" % self.count


async def main(maildir):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    loop = asyncio.get_running_loop()
    handler = Sink(maildir)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", data_size_limit=64 * 1024 * 1024), sock=sock
    )
    print(sock.getsockname()[1], flush=True)
    # Ends when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
