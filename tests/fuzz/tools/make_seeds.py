#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from real SDK traffic.

1. Capture: run integration tests with tools/capture on PYTHONPATH, e.g.
     WHARF_CAPTURE_DIR=/tmp/wharf-capture \
     PYTHONPATH=tests/fuzz/tools/capture tests/integration/run.sh test_boto3_json ...
   Every byte the SDKs send is recorded, one file per connection.
2. tools/make_seeds.py /tmp/wharf-capture tests/fuzz/corpus
   splits the streams into requests and writes, per target, a small and
   diverse set: at most a few requests per (action, parameter names) shape,
   plus short sessions (consecutive requests of one connection) for the
   request-level targets. Receipt handles become "$RH<n>" and task handles
   "$TH": the request-level harnesses substitute the live ones.

Input formats (see tests/fuzz/README.md):
  fuzz_json_request   <X-Amz-Target>\\n<body>        requests joined by \\n%%\\n
  fuzz_query_request  [GET ]<target>\\n<form body>   requests joined by \\n%%\\n
  fuzz_form_decoder   a form body / query string
  fuzz_http_request   raw HTTP/1.1 bytes (pipelined requests allowed)
"""
import hashlib
import json
import os
import re
import sys
import urllib.parse

SEP = b"\n%%\n"
PER_SHAPE = 3
MAX_REQUEST = 6000
SESSION_LEN = 6


def split_requests(stream):
    """Raw HTTP/1.1 client bytes -> list of (method, target, headers, body, raw)."""
    out = []
    pos = 0
    while pos < len(stream):
        end = stream.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = stream[pos:end].decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            break
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = stream[end + 4:end + 4 + length]
        raw = stream[pos:end + 4 + length]
        out.append((method, target, headers, body, raw))
        pos = end + 4 + length
    return out


def placeholder_json(doc):
    """Receipt and task handles -> placeholders, in a JSON request tree."""
    if isinstance(doc, dict):
        if "ReceiptHandle" in doc and isinstance(doc["ReceiptHandle"], str):
            doc["ReceiptHandle"] = "$RH"
        if "TaskHandle" in doc and isinstance(doc["TaskHandle"], str):
            doc["TaskHandle"] = "$TH"
        entries = doc.get("Entries")
        if isinstance(entries, list):
            for i, e in enumerate(entries):
                if isinstance(e, dict) and isinstance(e.get("ReceiptHandle"), str):
                    e["ReceiptHandle"] = "$RH%d" % i
    return doc


def placeholder_form(body):
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    out = []
    for k, v in pairs:
        m = re.match(r"^(?:\w+BatchRequestEntry)\.(\d+)\.ReceiptHandle$", k)
        if m:
            v = "$RH%d" % (int(m.group(1)) - 1)
        elif k == "ReceiptHandle":
            v = "$RH"
        elif k == "TaskHandle":
            v = "$TH"
        out.append((k, v))
    return urllib.parse.urlencode(out).encode()


def shape_key(action, params):
    return action + "|" + ",".join(sorted(params))


def main():
    src, dst = sys.argv[1], sys.argv[2]
    json_reqs, query_reqs, forms, raws = {}, {}, {}, {}
    json_sessions, query_sessions = [], []
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name), "rb") as f:
            stream = f.read()
        js, qs = [], []
        for method, target, headers, body, raw in split_requests(stream):
            if len(raw) > MAX_REQUEST:
                continue
            amz_target = headers.get("x-amz-target", "")
            ctype = headers.get("content-type", "")
            if amz_target or "json" in ctype:
                try:
                    doc = placeholder_json(json.loads(body or b"{}"))
                    body2 = json.dumps(doc).encode()
                except ValueError:
                    body2 = body
                    doc = {}
                one = amz_target.encode() + b"\n" + body2
                action = amz_target.split(".")[-1]
                key = shape_key(action, doc.keys() if isinstance(doc, dict) else [])
                json_reqs.setdefault(key, []).append(one)
                js.append(one)
            else:
                body2 = placeholder_form(body) if method == "POST" else body
                line = (b"GET " if method == "GET" else b"") + target.encode()
                one = line + b"\n" + body2
                params = urllib.parse.parse_qs((target.partition("?")[2] + "&" + body2.decode("utf-8", "replace")))
                action = (params.get("Action") or ["?"])[0]
                key = shape_key(action, [re.sub(r"\.\d+", ".N", k) for k in params])
                query_reqs.setdefault(key, []).append(one)
                forms.setdefault(key, []).append(body2 if method == "POST" else target.partition("?")[2].encode())
                qs.append(one)
            raws.setdefault(method + " " + ctype + " " + key, []).append(raw)
        for reqs, sessions in ((js, json_sessions), (qs, query_sessions)):
            for i in range(0, len(reqs), SESSION_LEN):
                sessions.append(SEP.join(reqs[i:i + SESSION_LEN]))

    def write(target, items):
        d = os.path.join(dst, target)
        os.makedirs(d, exist_ok=True)
        n = 0
        for item in items:
            h = hashlib.sha1(item).hexdigest()
            with open(os.path.join(d, h), "wb") as f:
                f.write(item)
            n += 1
        print(target, n)

    def pick(groups, per=PER_SHAPE):
        out = []
        for key in sorted(groups):
            items = sorted(set(groups[key]), key=len)
            out.extend(items[:per])
        return out

    sessions_j = sorted(set(s for s in json_sessions if len(s) < 8000), key=len)
    sessions_q = sorted(set(s for s in query_sessions if len(s) < 8000), key=len)
    write("fuzz_json_request", pick(json_reqs) + sessions_j[::max(1, len(sessions_j) // 120)])
    write("fuzz_query_request", pick(query_reqs) + sessions_q[::max(1, len(sessions_q) // 120)])
    write("fuzz_form_decoder", pick(forms))
    write("fuzz_http_request", pick(raws, 2))


if __name__ == "__main__":
    main()
