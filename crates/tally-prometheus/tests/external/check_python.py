#!/usr/bin/env python3
"""Parses a tally exposition with the Python prometheus_client's parser and compares every
family and sample with what the snapshot holds.

Usage: check_python.py text|openmetrics EXPOSITION_FILE EXPECTED_JSON

EXPECTED_JSON is a list of families, in output order:
  {"name": family name (OpenMetrics style: a counter's without "_total"),
   "type": "counter" | "gauge" | "histogram", "help": str or null, "unit": str or null,
   "samples": [{"name": str, "labels": [[name, value], ...], "value": str}, ...]}

Values compare exactly: the parsers read integers as Python ints (exact at any size) and
the rest as floats, and so does this script with the expected strings.

Two laxities of these parsers (not of the encoding) are allowed for HELP texts: the text
0.0.4 parser strips whitespace around the line and the help, and the OpenMetrics parser skips
spaces before the help. Everything else must be identical.

Exits 0 when everything matches, 1 with a list of differences otherwise, 2 on a parse error.
"""

import json
import sys


def number(s):
    try:
        return int(s)
    except ValueError:
        return float(s)


def main():
    fmt, exposition_path, expected_path = sys.argv[1:4]
    # newline="" keeps a raw "\r" inside a label value as it is.
    with open(exposition_path, encoding="utf-8", newline="") as f:
        text = f.read()
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)

    if fmt == "text":
        from prometheus_client.parser import text_string_to_metric_families
    elif fmt == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        sys.exit(f"unknown format {fmt!r}")

    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # noqa: BLE001 - any parser failure is the finding
        print(f"{fmt}: the parser refused the exposition: {e!r}")
        sys.exit(2)

    problems = []
    if len(families) != len(expected):
        problems.append(
            f"{len(families)} families parsed, {len(expected)} expected: "
            f"{[f.name for f in families]} vs {[e['name'] for e in expected]}"
        )
    samples_checked = 0
    for got, want in zip(families, expected):
        where = want["name"]
        if got.name != want["name"]:
            problems.append(f"family name {got.name!r} != {want['name']!r}")
        if got.type != want["type"]:
            problems.append(f"{where}: type {got.type!r} != {want['type']!r}")
        help_want = want["help"] or ""
        if fmt == "text":
            help_ok = got.documentation.strip() == help_want.strip()
        else:
            help_ok = got.documentation == help_want.lstrip(" ")
        if not help_ok:
            problems.append(f"{where}: help {got.documentation!r} != {help_want!r}")
        if fmt == "openmetrics" and got.unit != (want["unit"] or ""):
            problems.append(f"{where}: unit {got.unit!r} != {want['unit']!r}")
        if len(got.samples) != len(want["samples"]):
            problems.append(
                f"{where}: {len(got.samples)} samples parsed, {len(want['samples'])} expected"
            )
        for s, w in zip(got.samples, want["samples"]):
            samples_checked += 1
            labels = dict((k, v) for k, v in w["labels"])
            if s.name != w["name"] or s.labels != labels:
                problems.append(f"{where}: sample {s.name} {s.labels!r} != {w['name']} {labels!r}")
            value = number(w["value"])
            if s.value != value or type(s.value) is not type(value):
                problems.append(
                    f"{where}: {w['name']} {labels!r}: value {s.value!r} != {w['value']}"
                )
            if s.timestamp is not None:
                problems.append(f"{where}: unexpected timestamp {s.timestamp!r}")

    if problems:
        print(f"{fmt}: {len(problems)} differences:")
        for p in problems[:50]:
            print("  " + p)
        sys.exit(1)
    print(f"{fmt}: {len(families)} families, {samples_checked} samples identical")


if __name__ == "__main__":
    main()
