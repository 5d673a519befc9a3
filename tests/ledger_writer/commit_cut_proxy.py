"""A TCP proxy between the ledger-writer and PostgreSQL that makes a batch's COMMIT
"in doubt" on purpose (it_ledger_writer.py commit_cut): it forwards the client's
COMMIT to the server, waits until the server has answered it (CommandComplete
"COMMIT", then ReadyForQuery), and then closes the client's socket without passing
that answer on. PostgreSQL has committed; the writer sees a broken connection and
cannot tell whether its batch went in. A database restart hits that window only by
chance; this hits it on demand, several times a run.

It reads the wire protocol's framing (version 3: a 1-byte type and a 4-byte
big-endian length that counts itself; the client's first packets, startup and
SSLRequest/GSSENCRequest, have no type byte), so the client must connect in plain
text: the proxy answers SSLRequest and GSSENCRequest itself with 'N' (no), which
libpq accepts with sslmode=disable/prefer and gssencmode=disable/prefer.

Only COMMITs of transactions that wrote ledger records are candidates (the
transaction ran "COPY ledger_record ..."): those are the batches whose records
must reach Kafka. gk_db_commit() sends COMMIT through PQexecParams, i.e. the
extended protocol (Parse "COMMIT", Bind, Describe, Execute, Sync); COPY goes through
PQexec, a simple Query. Both forms are recognised for either statement.
"""
import socket
import struct
import threading

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        b = sock.recv(n - len(buf))
        if not b:
            return None
        buf += b
    return buf


def _statement(mtype, body):
    """The SQL text of a simple Query ('Q') or a Parse ('P'), else None."""
    if mtype == b"Q":
        return body.split(b"\0", 1)[0]
    if mtype == b"P":
        parts = body.split(b"\0", 2)	# statement name, query text, rest
        return parts[1] if len(parts) > 2 else None
    return None


class _Frames:
    """Splits a byte stream into whole typed messages (type, length, body)."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= 5:
            n = struct.unpack("!I", self.buf[1:5])[0]
            if n < 4:
                raise ValueError("bad message length %d" % n)
            if len(self.buf) < 1 + n:
                break
            out.append((self.buf[:1], self.buf[:1 + n]))
            self.buf = self.buf[1 + n:]
        return out


class Conn:
    """One client connection and its server connection, pumped by two threads."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.server = None
        self.wrote_records = False	# this transaction ran COPY ledger_record
        self.armed = False		# the COMMIT just sent is to be cut
        self.committed = False		# ... and the server said COMMIT
        self.closed = False
        self.lock = threading.Lock()

    def close(self):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for s in (self.client, self.server):
            if s is None:
                continue
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def run(self):
        try:
            self.server = socket.create_connection(self.proxy.target, timeout=10)
            self.server.settimeout(None)
            if not self.startup():
                self.close()
                return
        except OSError:
            self.close()
            return
        threading.Thread(target=self.pump_down, daemon=True).start()
        self.pump_up()

    def startup(self):
        """Relays the untyped startup packet, refusing encryption requests."""
        while True:
            head = _recv_exact(self.client, 4)
            if head is None:
                return False
            n = struct.unpack("!I", head)[0]
            if n < 8 or n > 10000:
                return False
            body = _recv_exact(self.client, n - 4)
            if body is None:
                return False
            code = struct.unpack("!I", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                self.client.sendall(b"N")	# plain text, or we could not read it
                continue
            self.server.sendall(head + body)
            return True

    def pump_up(self):
        """Client to server: watches for ledger COPYs and COMMITs."""
        frames = _Frames()
        try:
            while True:
                data = self.client.recv(65536)
                if not data:
                    break
                for mtype, _msg in frames.feed(data):
                    sql = _statement(mtype, _msg[5:])
                    if sql is None:
                        continue
                    word = sql.strip().upper()
                    if word.startswith(b"COPY LEDGER_RECORD"):
                        self.wrote_records = True
                    elif word in (b"COMMIT", b"END"):
                        # Armed before the bytes go on, so the answer cannot
                        # overtake the decision.
                        if self.wrote_records and self.proxy.want_cut():
                            self.armed = True
                        self.wrote_records = False
                    elif word in (b"BEGIN", b"ROLLBACK", b"ABORT"):
                        self.wrote_records = False
                self.server.sendall(data)
        except (OSError, ValueError):
            pass
        self.close()

    def pump_down(self):
        """Server to client: passes messages on, except the answer to a cut COMMIT."""
        frames = _Frames()
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                out = []
                for mtype, msg in frames.feed(data):
                    if not self.armed:
                        out.append(msg)
                        continue
                    if mtype == b"C" and msg[5:].rstrip(b"\0") == b"COMMIT":
                        self.committed = True
                    elif mtype == b"E":
                        # The COMMIT failed: not in doubt, let the client see it.
                        self.armed = False
                        out.append(msg)
                        continue
                    elif mtype == b"Z" and self.committed:
                        # Committed on the server; the client never hears of it.
                        self.proxy.note_cut()
                        self.close()
                        return
                    # Held back (ParseComplete, BindComplete, NoData, ...): the
                    # client gets none of its answer.
                if out:
                    self.client.sendall(b"".join(out))
        except (OSError, ValueError):
            pass
        self.close()


class CommitCutProxy:
    """Listens on 127.0.0.1 (an ephemeral port) and relays to target (host, port).
    decide() is called for each candidate COMMIT and returns whether to cut it;
    cuts counts the COMMITs that the server confirmed and the client never saw."""

    def __init__(self, target, decide):
        self.target = target
        self.decide = decide
        self.enabled = True
        self.cuts = 0
        self.candidates = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def want_cut(self):
        with self.lock:
            if not self.enabled:
                return False
            self.candidates += 1
            return self.decide(self.candidates)

    def note_cut(self):
        with self.lock:
            self.cuts += 1

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=Conn(self, c).run, daemon=True).start()

    def close(self):
        self.sock.close()
