#!/usr/bin/python3
"""A stand-in for kubectl, for testing scripts/tap-pods without a cluster.

Knows two verbs, as tap-pods calls them:
  get pods ... -o name        prints pod/NAME for each pod of FAKE_PODS ("NAME=PORT,NAME=PORT")
  port-forward pod/NAME [L]:P listens on 127.0.0.1:L (a free port without L), prints kubectl's
                              "Forwarding from 127.0.0.1:N -> P" line, and relays each
                              connection to 127.0.0.1:PORT of that pod until killed
Every call's process id and arguments are appended to FAKE_KUBECTL_LOG, one line each.
"""
import asyncio
import os
import sys


def pods():
    out = {}
    for item in filter(None, os.environ.get("FAKE_PODS", "").split(",")):
        name, port = item.split("=")
        out[name] = int(port)
    return out


async def relay(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def forward(target_port, local_port, remote_port):
    async def on_client(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            cw.close()
            return
        await asyncio.gather(relay(cr, uw), relay(ur, cw))

    server = await asyncio.start_server(on_client, "127.0.0.1", local_port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print("Forwarding from 127.0.0.1:%d -> %s" % (port, remote_port), flush=True)
    async with server:
        await server.serve_forever()


def main(argv):
    log = os.environ.get("FAKE_KUBECTL_LOG")
    if log:
        with open(log, "a") as f:
            f.write("%d %s\n" % (os.getpid(), " ".join(argv)))
    words = [a for a in argv if not a.startswith("-")]
    if "get" in words and "pods" in words:
        for name in pods():
            print("pod/" + name)
        return 0
    if "port-forward" in argv:
        i = argv.index("port-forward")
        pod, ports = argv[i + 1], argv[i + 2]
        target = pods().get(pod.removeprefix("pod/"))
        if target is None:
            print('error: pods "%s" not found' % pod, file=sys.stderr)
            return 1
        local, _, remote = ports.rpartition(":")
        asyncio.run(forward(target, int(local or 0), remote))
        return 0
    print("fake kubectl: unknown call: %s" % " ".join(argv), file=sys.stderr)
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(0)
