#!/usr/bin/env python3
"""Draws a Spindle Chrome trace (spindle-bench --trace PATH, or ThreadPool.chromeTrace()) as an
SVG timeline: one lane per thread, job spans coloured by kind, and marks for steals, heartbeat
promotions and parking.

    python3 scripts/trace-to-svg.py trace.json timeline.svg [--width 1200]

Spans shorter than a pixel are merged with their neighbours of the same kind, so a trace of
tens of thousands of jobs still gives a small file.
"""
import json
import sys

COLOURS = {
    "join": "#4e79a7",
    "scope spawn": "#59a14f",
    "background task": "#f28e2b",
    "foreground job": "#76b7b2",
    "swift job": "#b07aa1",
}
MARKS = {"steal": "#e15759", "promotion": "#2b2b2b", "park": "#bab0ac"}


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    source, target = argv[1], argv[2]
    width = int(argv[argv.index("--width") + 1]) if "--width" in argv else 1200
    events = json.load(open(source))["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    timed = [e for e in events if e.get("ph") in ("B", "E", "i")]
    if not timed:
        print("no timed events in", source)
        return 1
    start = min(float(e["ts"]) for e in timed)
    end = max(float(e["ts"]) for e in timed)
    span = max(end - start, 1.0)
    left, lane_height, top = 90, 26, 30
    scale = (width - left - 10) / span
    lanes = sorted({e["tid"] for e in timed})
    height = top + lane_height * len(lanes) + 40

    def x(ts):
        return left + (float(ts) - start) * scale

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="16">Spindle trace: {len(lanes)} threads, {span / 1000:.1f} ms '
           f'(spans: jobs by kind; red ticks: steals; black: heartbeat promotions; grey: parked)</text>']
    for row, tid in enumerate(lanes):
        y = top + row * lane_height
        out.append(f'<text x="4" y="{y + 15}">{names.get(tid, f"thread {tid}")}</text>')
        out.append(f'<line x1="{left}" y1="{y + lane_height - 2}" x2="{width - 10}" y2="{y + lane_height - 2}" stroke="#eee"/>')
        stack, pending = [], None  # pending: [name, x0, x1] of the span being merged
        spans = []
        for e in (e for e in timed if e["tid"] == tid):
            if e["ph"] == "B":
                stack.append((e["name"], x(e["ts"])))
            elif e["ph"] == "E" and stack:
                name, x0 = stack.pop()
                if stack:
                    continue  # draw outermost spans only: nested work is inside them
                x1 = x(e["ts"])
                if pending and pending[0] == name and x0 - pending[2] < 1.0:
                    pending[2] = x1
                else:
                    if pending:
                        spans.append(pending)
                    pending = [name, x0, x1]
        if pending:
            spans.append(pending)
        for name, x0, x1 in spans:
            colour = COLOURS.get(name, "#999")
            out.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.8):.1f}" height="{lane_height - 8}" fill="{colour}"><title>{name}</title></rect>')
        marked = set()
        for e in (e for e in timed if e["tid"] == tid and e["ph"] == "i"):
            kind = e["name"] if e["name"] in MARKS else None
            if kind is None:
                continue
            px = int(x(e["ts"]))
            if (kind, px) in marked:
                continue
            marked.add((kind, px))
            if kind == "park":
                out.append(f'<rect x="{px}" y="{y + lane_height - 6}" width="1" height="3" fill="{MARKS[kind]}"/>')
            else:
                y0 = y + (1 if kind == "steal" else lane_height - 9)
                out.append(f'<rect x="{px}" y="{y0}" width="1" height="6" fill="{MARKS[kind]}"/>')
    axis_y = top + lane_height * len(lanes) + 12
    for k in range(11):
        tx = left + k * (width - left - 10) / 10
        out.append(f'<line x1="{tx:.1f}" y1="{axis_y - 6}" x2="{tx:.1f}" y2="{axis_y}" stroke="#666"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 12}" text-anchor="middle">{span * k / 10 / 1000:.1f} ms</text>')
    legend_x = left
    for name, colour in COLOURS.items():
        out.append(f'<rect x="{legend_x}" y="{height - 10}" width="10" height="8" fill="{colour}"/>')
        out.append(f'<text x="{legend_x + 13}" y="{height - 2}">{name}</text>')
        legend_x += 120
    out.append("</svg>")
    with open(target, "w") as f:
        f.write("\n".join(out))
    print(f"{target}: {len(lanes)} lanes, {span / 1000:.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
