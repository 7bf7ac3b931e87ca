#!/usr/bin/env python3
"""expect_from_tshark.py CAPTURE.pcap [PORT...] - the transactions a capture
holds, worked out by tshark's HTTP dissector alone (no CRAFT code), as the
NAME.expect table tests/e2e/logger/pcap_corpus.sh checks craft-pcap against.

Ports (default 80 8000 8080) are decoded as HTTP. tshark runs two-pass with
TCP reassembly and HTTP header/body desegmentation; its PDML output gives,
per frame, the relative sequence number of the TCP payload and, per HTTP
message, where the message sits: in the frame (pos relative to the payload)
or, when reassembled, at the tail of the first segment the reassembly lists
("Frame: N, payload: 0-B (L bytes)": its last L bytes). Offsets use tshark's relative sequence numbers:
seq - ISN, so the first data byte is 1; ends are exclusive. A message ends
at the end of the last bytes the dissector attributed to it (its fields and
body); each end is checked against the start of the next message in the
same direction, and the script fails rather than guess when they disagree.

Transactions pair the n-th request with the n-th final response of a
connection; interim 1xx responses belong to the final one that follows
(its response starts at the 1xx). A request without a final response is
"incomplete"; its response then covers the server bytes sent after the
previous response ("?" after the end), or is "-" when there are none, and
its status is the one of its response head (read again without body
desegmentation), 0 when none.

Output, one line per transaction, in capture order of connections:
  txn CLIENT>SERVER ord=N req=S-E resp=S-E status=C method=M state=S frame=F
frame: the frame with which the transaction's last message was complete
(the truncation tests use it). Lines starting with # are comments."""
import re
import subprocess
import sys
import xml.etree.ElementTree as ET


def fields(el):
    """name -> list of field elements, for the direct and nested fields of el."""
    out = {}
    for f in el.iter("field"):
        out.setdefault(f.get("name"), []).append(f)
    return out


def show(fs, name, default=None):
    v = fs.get(name)
    return v[0].get("show") if v else default


def extent(els):
    """End (pos + size) of the bytes the fields under the elements cover:
    a proto element's own size runs to the end of its buffer, and generated
    fields have size 0."""
    end = 0
    for el in els:
        for f in el.iter("field"):
            if f.get("size") and f.get("pos") and int(f.get("size")) > 0:
                end = max(end, int(f.get("pos")) + int(f.get("size")))
    return end


def run_tshark(path, ports, bodies):
    body = "TRUE" if bodies else "FALSE"
    cmd = ["tshark", "-r", path, "-2", "-T", "pdml", "-o", "tcp.desegment_tcp_streams:TRUE",
           "-o", "http.desegment_headers:TRUE", "-o", f"http.desegment_body:{body}",
           "-o", "http.dechunk_body:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE",
           "-o", "tcp.analyze_sequence_numbers:TRUE"]
    for p in ports:
        cmd += ["-d", f"tcp.port=={p},http"]
    r = subprocess.run(cmd, capture_output=True, check=False)
    if r.returncode != 0:
        sys.exit(f"expect_from_tshark: tshark failed: {r.stderr.decode(errors='replace')}")
    # tshark copies payload text (form fields, lines) into attributes as it
    # is: invalid UTF-8 and control bytes make the PDML ill-formed XML; none
    # of the attributes used here (pos, size, numbers) can contain them
    text = r.stdout.decode("utf-8", errors="replace")
    return ET.fromstring(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "?", text))


def messages(path, ports, bodies):
    """The HTTP messages per TCP stream and direction, and the streams in
    capture order."""
    root = run_tshark(path, ports, bodies)
    nxt_of = {}  # frame number -> relative seq after its payload
    streams = {}  # tcp.stream -> dict
    order = []
    for pkt in root.iter("packet"):
        protos = list(pkt)
        names = [p.get("name") for p in protos]
        if "tcp" not in names:
            continue
        tcp = protos[names.index("tcp")]
        tf = fields(tcp)
        ipf = fields(protos[names.index("ip")])
        num = int(fields(protos[names.index("frame")])["frame.number"][0].get("show"))
        sid = show(tf, "tcp.stream")
        seq, tlen = int(show(tf, "tcp.seq")), int(show(tf, "tcp.len"))
        nxt_of[num] = seq + tlen
        src = f"{show(ipf, 'ip.src')}:{show(tf, 'tcp.srcport')}"
        dst = f"{show(ipf, 'ip.dst')}:{show(tf, 'tcp.dstport')}"
        if sid not in streams:
            syn, ack = show(tf, "tcp.flags.syn") == "1", show(tf, "tcp.flags.ack") == "1"
            # the client is the SYN's sender; a SYN-ACK first means the other side
            cli, srv = (dst, src) if syn and ack else (src, dst)
            streams[sid] = {"cli": cli, "srv": srv, "msgs": {cli: [], srv: []}, "data_end": {cli: 1, srv: 1}}
            order.append(sid)
        st = streams[sid]
        if tlen > 0:
            st["data_end"][src] = max(st["data_end"][src], seq + tlen)
        payload_pos = int(tcp.get("pos")) + int(show(tf, "tcp.hdr_len"))
        # "Frame: N, payload: A-B (L bytes)" per segment of a reassembly
        # that completed in this frame: A-B are offsets in the reassembled
        # buffer; the first segment gives the message its last L bytes
        segs = [f.get("showname") for f in pkt.iter("field") if f.get("name") == "tcp.segment"]
        # HTTP messages of this frame: each http proto plus the body
        # dissectors that follow it, up to the next http proto
        groups = []
        for p in protos[names.index("tcp") + 1 :]:
            if p.get("name") == "http":
                groups.append([p])
            elif groups:
                groups[-1].append(p)
        for i, g in enumerate(groups):
            hf = fields(g[0])
            if i == 0 and segs and int(g[0].get("pos")) < payload_pos:
                # reassembled: that buffer starts at the message's first byte
                first = segs[0].split()
                fnum, nbytes = int(first[1].rstrip(",")), int(first[4].lstrip("("))
                start = nxt_of[fnum] - nbytes
                end = start + extent(g)
            else:
                start = seq + int(g[0].get("pos")) - payload_pos
                end = seq + extent(g) - payload_pos
            kind = "req" if "http.request.method" in hf else "resp" if "http.response.code" in hf else None
            if kind is None:
                continue  # continuation data tshark could not frame
            st["msgs"][src].append({
                "kind": kind, "start": start, "end": end, "frame": num,
                "method": show(hf, "http.request.method"),
                "code": int(show(hf, "http.response.code", "0")),
            })
    return streams, order


def head_status(path, ports, sid, start):
    """Status of the response head at start, read with body desegmentation
    off: a response cut short never completes as a whole message."""
    streams, _ = messages(path, ports, False)
    st = streams[sid]
    for m in st["msgs"][st["srv"]]:
        if m["kind"] == "resp" and m["start"] == start and m["code"] >= 200:
            return m["code"]
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    ports = sys.argv[2:] or ["80", "8000", "8080"]
    streams, order = messages(path, ports, True)
    print(f"# {path.rsplit('/', 1)[-1]}: transactions by tshark's HTTP dissector "
          f"({subprocess.run(['tshark', '--version'], capture_output=True).stdout.decode().splitlines()[0]})")
    print("# txn CLIENT>SERVER ord=N req=START-END resp=START-END status=C method=M state=S frame=F")
    for sid in order:
        st = streams[sid]
        for d in (st["cli"], st["srv"]):
            ms = sorted(st["msgs"][d], key=lambda m: m["start"])
            for a, b in zip(ms, ms[1:]):
                if a["end"] != b["start"]:
                    sys.exit(f"expect_from_tshark: {path}: stream {sid} {d}: message at {a['start']} ends at "
                             f"{a['end']}, the next starts at {b['start']}")
            st["msgs"][d] = ms
        reqs = [m for m in st["msgs"][st["cli"]] if m["kind"] == "req"]
        resps, interim = [], None
        for m in st["msgs"][st["srv"]]:
            if m["kind"] != "resp":
                continue
            if 100 <= m["code"] < 200:
                interim = interim or m
                continue
            resps.append(dict(m, start=interim["start"]) if interim else m)
            interim = None
        prev_end = 1
        for n, rq in enumerate(reqs, 1):
            if n <= len(resps):
                rs = resps[n - 1]
                resp, state, frame = f"{rs['start']}-{rs['end']}", "complete", max(rq["frame"], rs["frame"])
                status, prev_end = rs["code"], rs["end"]
            else:
                start = interim["start"] if interim else prev_end
                end = st["data_end"][st["srv"]]
                resp = f"{start}-{end}?" if end > start else "-"
                state, frame = "incomplete", 0
                status = head_status(path, ports, sid, start) if end > start else 0
                prev_end = end
            print(f"txn {st['cli']}>{st['srv']} ord={n} req={rq['start']}-{rq['end']} resp={resp} "
                  f"status={status} method={rq['method']} state={state} frame={frame}")


if __name__ == "__main__":
    main()
