#!/usr/bin/env python3
"""Reads a capture taken on the peer's side (tcpdump -w, Ethernet or Linux
cooked) and rebuilds, per TCP connection, the byte stream the server side
sent to the peer (by sequence number, from the SYN-ACK's ISN). Prints one
JSON object: {"streams": {"<peer port>": {"len": N, "sha256": H}},
"x_bytes": count of 'X' bytes in any server->peer payload (retransmissions
included), "segments": N, "conflicts": bytes that arrived twice with
different content}. A byte 'X' is an aborted byte (tools/txserver)."""
import hashlib
import json
import struct
import sys


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = "<"
    else:
        e = ">"
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        if linktype == 1:
            if len(frame) < 14 or frame[12:14] != b"\x08\x00":
                continue
            yield frame[14:]
        elif linktype == 113:
            if len(frame) < 16 or frame[14:16] != b"\x08\x00":
                continue
            yield frame[16:]
        elif linktype == 101:
            yield frame


def main():
    path, server_port = sys.argv[1], int(sys.argv[2])
    isn = {}
    chunks = {}
    xb = 0
    segs = 0
    for ip in packets(path):
        if len(ip) < 20 or ip[9] != 6:
            continue
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack(">H", ip[2:4])[0]
        tcp = ip[ihl:tot]
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        payload = tcp[doff:]
        if sport != server_port:
            continue
        if flags & 0x02:
            isn[dport] = seq
            continue
        if dport not in isn or not payload:
            continue
        segs += 1
        xb += payload.count(b"X")
        chunks.setdefault(dport, []).append(((seq - isn[dport] - 1) & 0xffffffff, payload))
    streams = {}
    conflicts = 0
    for port, lst in chunks.items():
        end = max(o + len(p) for o, p in lst)
        buf = bytearray(end)
        have = bytearray(end)
        for o, p in lst:
            n = len(p)
            if 1 in have[o:o + n]:
                for i, b in enumerate(p):
                    if have[o + i] and buf[o + i] != b:
                        conflicts += 1
            buf[o:o + n] = p
            have[o:o + n] = b"\x01" * n
        n = have.find(0)
        n = end if n < 0 else n
        streams[str(port)] = {"len": n, "sha256": hashlib.sha256(bytes(buf[:n])).hexdigest()}
    print(json.dumps({"streams": streams, "x_bytes": xb, "segments": segs, "conflicts": conflicts}))


if __name__ == "__main__":
    main()
