#!/usr/bin/python3
"""Writes the decoder test images (tests/vision/data) and the image fuzz corpus
(tests/fuzz/corpus/image). Needs Debian's python3-pil; run from the repository root. The pixel
pattern is the one tests/vision/test_image.c computes: (16x, 20y, 8(x+y)) mod 256 on 16 x 12."""
import io, os, struct, zlib
from PIL import Image

W, H = 16, 12
D = "tests/vision/data"
C = "tests/fuzz/corpus/image"


def pat(x, y):
    return ((16 * x) & 255, (20 * y) & 255, (8 * (x + y)) & 255)


def rgb_image():
    im = Image.new("RGB", (W, H))
    im.putdata([pat(x, y) for y in range(H) for x in range(W)])
    return im


def chunk(t, b):
    return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xFFFFFFFF)


def png_raw(w, h, depth, ctype, rows, interlace=False):
    """A PNG by hand: rows are lists of bytes objects (already packed samples) per row."""
    bpp = {(8, 2): 3, (16, 2): 6, (16, 0): 2, (8, 6): 4}[(depth, ctype)]
    raw = b""
    if not interlace:
        for r in rows:
            raw += b"\0" + r
    else:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        for x0, y0, dx, dy in passes:
            for y in range(y0, h, dy):
                line = b"".join(rows[y][x * bpp:(x + 1) * bpp] for x in range(x0, w, dx))
                if line:
                    raw += b"\0" + line
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def save(path, data):
    with open(path, "wb") as f:
        f.write(data)


def enc(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return b.getvalue()


os.makedirs(D, exist_ok=True)
os.makedirs(C, exist_ok=True)
im = rgb_image()
rows8 = [bytes(v for x in range(W) for v in pat(x, y)) for y in range(H)]
files = {}
files["rgb.png"] = png_raw(W, H, 8, 2, rows8)
files["interlaced.png"] = png_raw(W, H, 8, 2, rows8, interlace=True)
# 16-bit RGB: high byte is the pattern, low byte noise that must be dropped.
rows16 = [b"".join(bytes([v, (x * 7 + y) & 255]) for x in range(W) for v in pat(x, y)) for y in range(H)]
files["rgb16.png"] = png_raw(W, H, 16, 2, rows16)
# RGBA: alpha 0 in column 0, 128 in column 1, opaque elsewhere.
rowsa = [bytes(v for x in range(W) for v in pat(x, y) + ((0, 128) + (255,) * (W - 2))[x:x + 1]) for y in range(H)]
files["rgba.png"] = png_raw(W, H, 8, 6, rowsa)
# Palette with a transparent entry; grey 1-bit; grey 16-bit.
pal = Image.new("P", (W, H))
pal.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
pal.putdata([(x // 4) for y in range(H) for x in range(W)])
files["palette.png"] = enc(pal, "PNG", transparency=3)
files["grey1.png"] = enc(Image.new("1", (W, H), 1), "PNG")
g16 = Image.new("I;16", (W, H))
g16.putdata([(x * 4096 + y) for y in range(H) for x in range(W)])
files["grey16.png"] = enc(g16, "PNG")
# JPEG: plain, progressive, grey, CMYK (Adobe, inverted as PIL writes it).
flat = Image.new("RGB", (W, H), (200, 40, 90))
files["flat.jpg"] = enc(flat, "JPEG", quality=95)
files["progressive.jpg"] = enc(flat, "JPEG", quality=95, progressive=True)
files["grey.jpg"] = enc(Image.new("L", (W, H), 77), "JPEG", quality=95)
files["cmyk.jpg"] = enc(Image.new("CMYK", (W, H), (0, 255, 255, 0)), "JPEG", quality=95)
# WebP: lossless (exact), lossy with alpha, animated (red then blue).
files["lossless.webp"] = enc(im, "WEBP", lossless=True)
rgba = Image.new("RGBA", (W, H), (0, 0, 255, 0))
files["alpha.webp"] = enc(rgba, "WEBP", lossless=True)
red, blue = Image.new("RGB", (W, H), (255, 0, 0)), Image.new("RGB", (W, H), (0, 0, 255))
files["anim.webp"] = enc(red, "WEBP", save_all=True, append_images=[blue], lossless=True, duration=100)
# GIF: animated (red then blue), interlaced, transparent.
files["anim.gif"] = enc(red.convert("P"), "GIF", save_all=True, append_images=[blue.convert("P")], duration=100)
gp = pal.copy()
files["interlaced.gif"] = enc(gp, "GIF", interlace=True)
files["transparent.gif"] = enc(gp, "GIF", transparency=3)
for k, v in files.items():
    save(os.path.join(D, k), v)

# Bombs: headers that promise far more pixels than the caps, with a few bytes of body.
ihdr = struct.pack(">IIBBBBB", 50000, 50000, 1, 0, 0, 0, 0)
body = zlib.compress(b"\0" * 200000, 9)
bomb_png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
save(os.path.join(D, "bomb.png"), bomb_png)
j = bytearray(files["flat.jpg"])
i = j.find(b"\xff\xc0")
j[i + 5:i + 9] = struct.pack(">HH", 60000, 60000)
save(os.path.join(D, "bomb.jpg"), bytes(j))
g = bytearray(files["anim.gif"])
g[6:10] = struct.pack("<HH", 65535, 65535)
save(os.path.join(D, "bomb.gif"), bytes(g))

# Corpus: each valid file, each cut in half, one with flipped bytes, the bombs.
for k in ["rgb.png", "interlaced.png", "palette.png", "grey16.png", "flat.jpg", "progressive.jpg", "cmyk.jpg",
          "lossless.webp", "anim.webp", "anim.gif", "interlaced.gif"]:
    v = files[k]
    base = k.replace(".", "_")
    save(os.path.join(C, base), v)
    save(os.path.join(C, base + "_cut"), v[: len(v) // 2])
    bad = bytearray(v)
    for p in range(len(bad) // 3, len(bad), 17):
        bad[p] ^= 0x5A
    save(os.path.join(C, base + "_flip"), bytes(bad))
save(os.path.join(C, "bomb_png"), bomb_png[:300])
save(os.path.join(C, "bomb_jpg"), open(os.path.join(D, "bomb.jpg"), "rb").read())
save(os.path.join(C, "bomb_gif"), open(os.path.join(D, "bomb.gif"), "rb").read())
save(os.path.join(C, "html"), b"<!DOCTYPE html><html><body>not an image</body></html>")
