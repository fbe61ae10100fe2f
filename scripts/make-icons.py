#!/usr/bin/env python3
"""Draws the app icons in public/icons/ (a white map pin on navy) with no dependencies.

The PNGs have no alpha channel: iOS shows transparency in a Home Screen icon as black.

Run from the repository root: python3 scripts/make-icons.py
The maskable icon keeps the pin inside the central 60% so any mask shape leaves it whole.
"""
import math
import struct
import zlib

NAVY = (0x0B, 0x3D, 0x91)
WHITE = (0xFF, 0xFF, 0xFF)


def inside_pin(x, y, scale):
    """Is (x, y), in units of the icon size, on the white part of a pin of the given scale?"""
    cx, cy = 0.5, 0.5 - 0.08 * scale
    radius = 0.24 * scale
    tip_y = cy + 0.42 * scale
    dx, dy = x - cx, y - cy
    in_head = dx * dx + dy * dy <= radius * radius
    # The tail: a triangle from the head's tangent points down to the tip.
    in_tail = False
    if cy <= y <= tip_y:
        half_width = radius * (tip_y - y) / (tip_y - cy) * 0.95
        in_tail = abs(dx) <= half_width
    hole = dx * dx + dy * dy <= (0.095 * scale) ** 2
    return (in_head or in_tail) and not hole


def render(size, scale):
    samples = 4
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            hits = 0
            for sy in range(samples):
                for sx in range(samples):
                    x = (px + (sx + 0.5) / samples) / size
                    y = (py + (sy + 0.5) / samples) / size
                    hits += inside_pin(x, y, scale)
            mix = hits / (samples * samples)
            row.extend(round(n + (w - n) * mix) for n, w in zip(NAVY, WHITE))
        rows.append(bytes(row))
    return b"".join(rows)


def write_png(path, size, pixels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(chunk(b"IHDR", header))
        out.write(chunk(b"IDAT", zlib.compress(pixels, 9)))
        out.write(chunk(b"IEND", b""))


for name, size, scale in [
    ("icon-192.png", 192, 1.0),
    ("icon-512.png", 512, 1.0),
    ("icon-maskable-512.png", 512, 0.72),
    # iOS's Home Screen icon: opaque (iOS shows transparency as black) and uncropped (iOS rounds
    # the corners itself).
    ("apple-touch-icon-180.png", 180, 0.8),
]:
    write_png(f"public/icons/{name}", size, render(size, scale))
    print("wrote", name)
