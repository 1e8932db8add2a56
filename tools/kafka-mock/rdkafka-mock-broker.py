#!/usr/bin/env python3
"""Adapted from ../shared/tools/kafka-mock (adds broker down/up to the control API).

Run librdkafka's built-in mock Kafka cluster (Debian package `librdkafka1`) as a
standalone broker process, using only the Python standard library (ctypes).

  python3 rdkafka-mock-broker.py [--brokers N] [--bootstrap-file PATH]
                                 [--topic NAME:PARTITIONS ...] [--control-port PORT]

* Listens on 127.0.0.1 only, on random ports chosen by librdkafka (one per broker).
  Prints "BOOTSTRAP=host:port[,...]" on stdout and writes the same string to
  --bootstrap-file (atomically) once the cluster is up.
* --topic pre-creates topics with an exact partition count (the Kafka CreateTopics
  API is NOT implemented by the mock; topics auto-created on first use get 4 partitions).
* --control-port starts a tiny HTTP control API on 127.0.0.1:
      POST /topics  {"topic": "name", "partitions": 3}   -> 201 / 400
      POST /brokers/<id>/down                             -> 200 (drop its connections, refuse new ones)
      POST /brokers/<id>/up                               -> 200
      GET  /health                                        -> {"bootstrap": "..."}
* Work-around: librdkafka's mock never sets its ControllerId (always reports 0, a
  non-existent broker), which breaks kafkajs features that talk to the controller
  (idempotent producer, admin.createTopics...). Unless --no-controller-fix is given,
  we set it to broker 1 after verifying the struct layout
  (char id[32]; rd_kafka_t *rk; int32_t controller_id; - unchanged since v1.x).
* Runs until SIGTERM/SIGINT; all data is in memory and is lost on exit.
"""
import argparse, ctypes, ctypes.util, json, os, signal, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--brokers", type=int, default=1)
p.add_argument("--bootstrap-file")
p.add_argument("--topic", action="append", default=[], help="NAME:PARTITIONS, may repeat")
p.add_argument("--control-port", type=int)
p.add_argument("--no-controller-fix", action="store_true")
p.add_argument("--debug", default="", help="librdkafka debug contexts, e.g. 'mock'")
p.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started this one ends")
args = p.parse_args()

lib = ctypes.CDLL(ctypes.util.find_library("rdkafka") or "librdkafka.so.1")
V, S, I = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
def sig(fn, res, *argt):
    f = getattr(lib, fn); f.restype = res; f.argtypes = list(argt); return f
version_str = sig("rd_kafka_version_str", S)
conf_new = sig("rd_kafka_conf_new", V)
conf_set = sig("rd_kafka_conf_set", I, V, S, S, S, ctypes.c_size_t)
kafka_new = sig("rd_kafka_new", V, I, V, S, ctypes.c_size_t)
kafka_destroy = sig("rd_kafka_destroy", None, V)
mock_new = sig("rd_kafka_mock_cluster_new", V, V, I)
mock_destroy = sig("rd_kafka_mock_cluster_destroy", None, V)
mock_bootstraps = sig("rd_kafka_mock_cluster_bootstraps", S, V)
mock_topic_create = sig("rd_kafka_mock_topic_create", I, V, S, I, I)
mock_broker_set_down = sig("rd_kafka_mock_broker_set_down", I, V, ctypes.c_int32)
mock_broker_set_up = sig("rd_kafka_mock_broker_set_up", I, V, ctypes.c_int32)
err2str = sig("rd_kafka_err2str", S, I)

errstr = ctypes.create_string_buffer(512)
conf = conf_new()
conf_set(conf, b"log_level", b"4", errstr, 512)  # hide the "no bootstrap.servers" notice
if args.debug:
    conf_set(conf, b"debug", args.debug.encode(), errstr, 512)
rk = kafka_new(0, conf, errstr, 512)  # RD_KAFKA_PRODUCER that never connects anywhere
if not rk:
    sys.exit("rd_kafka_new failed: " + errstr.value.decode())
mc = mock_new(rk, args.brokers)
if not mc:
    sys.exit("rd_kafka_mock_cluster_new failed")

controller_note = "controller fix disabled"
if not args.no_controller_fix:
    cid = ctypes.string_at(mc, 32).split(b"\0")[0]
    rkp = V.from_address(mc + 32).value
    ctl = ctypes.c_int32.from_address(mc + 40)
    if cid.startswith(b"mockCluster") and rkp == rk and ctl.value in (0, -1):
        ctl.value = 1  # broker ids are 1..N
        controller_note = "controllerId set to 1"
    else:
        controller_note = "controller fix skipped (unexpected struct layout)"

lock = threading.Lock()
def create_topic(name, parts):
    with lock:
        return mock_topic_create(mc, name.encode(), int(parts), min(3, args.brokers))

for t in args.topic:
    name, _, parts = t.partition(":")
    err = create_topic(name, parts or 1)
    if err:
        sys.exit("topic %s: %s" % (t, err2str(err).decode()))

bootstrap = mock_bootstraps(mc).decode()

class Control(BaseHTTPRequestHandler):
    def _send(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        if self.path == "/health": self._send(200, {"bootstrap": bootstrap, "pid": os.getpid()})
        else: self._send(404, {"error": "not found"})
    def do_POST(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "brokers" and parts[2] in ("down", "up"):
            try:
                broker = int(parts[1])
            except ValueError:
                return self._send(400, {"error": "broker id must be an integer"})
            with lock:
                err = (mock_broker_set_down if parts[2] == "down" else mock_broker_set_up)(mc, broker)
            if err: return self._send(400, {"error": err2str(err).decode()})
            return self._send(200, {"broker": broker, "state": parts[2]})
        if self.path != "/topics": return self._send(404, {"error": "not found"})
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            err = create_topic(req["topic"], req.get("partitions", 1))
        except Exception as e:
            return self._send(400, {"error": repr(e)})
        if err: self._send(400, {"error": err2str(err).decode()})
        else: self._send(201, {"topic": req["topic"], "partitions": req.get("partitions", 1)})
    def log_message(self, *a): pass

ctl_srv = None
if args.control_port is not None:
    ctl_srv = ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    threading.Thread(target=ctl_srv.serve_forever, daemon=True).start()

if args.bootstrap_file:
    with open(args.bootstrap_file + ".tmp", "w") as f:
        f.write(bootstrap + "\n")
    os.replace(args.bootstrap_file + ".tmp", args.bootstrap_file)
print("librdkafka %s mock cluster pid=%d brokers=%d %s%s BOOTSTRAP=%s" % (
    version_str().decode(), os.getpid(), args.brokers, controller_note,
    (" control=http://127.0.0.1:%d" % ctl_srv.server_address[1]) if ctl_srv else "", bootstrap), flush=True)

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
signal.signal(signal.SIGINT, lambda *a: stop.set())
if args.exit_with_parent:
    parent = os.getppid()
    def watch_parent():
        while not stop.wait(1):
            if os.getppid() != parent:
                stop.set()
    threading.Thread(target=watch_parent, daemon=True).start()
while not stop.wait(3600):
    pass
if ctl_srv:
    ctl_srv.shutdown()
mock_destroy(mc)
kafka_destroy(rk)
if args.bootstrap_file:  # remove it only if it is still ours
    try:
        with open(args.bootstrap_file) as f:
            if f.read().strip() == bootstrap:
                os.unlink(args.bootstrap_file)
    except FileNotFoundError:
        pass
print("mock cluster stopped", flush=True)
