#!/usr/bin/env python3
"""Turns the captured BGP fixtures into fuzz seeds: one file per message,
prefixed with the context selector byte of podroute::bgp::fuzzing::context_for
that matches the sender's negotiated context (eBGP maps to the selector's
eBGP bit)."""
import pathlib, tomllib

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "fuzz/seeds/decode_message"
out.mkdir(parents=True, exist_ok=True)
count = 0
for scenario in sorted((root / "tests/fixtures/bgp").iterdir()):
    if not scenario.is_dir():
        continue
    ctx = tomllib.loads((scenario / "context.toml").read_text())
    for f in sorted(scenario.glob("*.bin")):
        c = ctx[f.name.split("-")[0]]
        sel = (1 if c["four_octet_as"] else 0) | (2 if c["extended_message"] else 0)
        sel |= 4 if "1/1" in c.get("add_path", []) else 0
        sel |= 8 if "2/1" in c.get("add_path", []) else 0
        sel |= 16 if c["peer"] != "internal" else 0
        (out / f"fixture-{scenario.name}-{f.stem}").write_bytes(bytes([sel]) + f.read_bytes())
        count += 1
print(f"{count} seeds written to {out}")
