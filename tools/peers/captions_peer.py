"""Peer for tests/captions.rs: parses caption files with `srt` and `webvtt-py`.

Usage: captions_peer.py FILE.srt FILE.vtt > parsed.json
Prints {"srt": [{start, end, text}], "vtt": [{start, end, text}]} with times in seconds and
WebVTT text HTML-unescaped (cue text escapes &, <, >).
"""

import html
import json
import sys

import srt
import webvtt


def main():
    srt_path, vtt_path = sys.argv[1:3]
    with open(srt_path, encoding="utf-8") as f:
        subs = list(srt.parse(f.read()))
    vtt = webvtt.read(vtt_path)
    json.dump({
        "srt": [{"index": s.index, "start": s.start.total_seconds(), "end": s.end.total_seconds(),
                 "text": s.content} for s in subs],
        "vtt": [{"start": c.start_in_seconds + int(c.start[-3:]) / 1000.0,
                 "end": c.end_in_seconds + int(c.end[-3:]) / 1000.0,
                 "text": html.unescape(c.text)} for c in vtt],
    }, sys.stdout)


if __name__ == "__main__":
    main()
