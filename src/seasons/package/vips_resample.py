"""The server's resize, ported to numpy: what libvips (through sharp) does for
`resize(w, h, { fit: 'fill', kernel: 'linear' })` on 8-bit images, step for step.

libvips' vips_resize scales each axis by target / source. An axis that shrinks goes through vips_reduce
(vertical first, then horizontal) with resize's "gap" of 2: first a box shrink by the integer
floor(source / target / 2) (vips_shrinkv/h with ceil, the last box padded with copies of the edge), then
a triangle-kernel reduce by what remains, in fixed point (coefficients of 12 bits, tabled at 1/64 pixel
steps). An axis that grows goes through vips_affine with the bilinear interpolator (fixed point too).
Every rounding below is the one libvips' vector (Highway) path makes. One thing is not the arithmetic's
but libvips' scheduling: the position of each output pixel is computed afresh at the start of each region
libvips works on and then advanced pixel by pixel, so float rounding at a handful of sample points
depends on how the sink cuts the image into regions. This port assumes whole rows, 16 rows at a time
(what sharp does for an image already in memory): there it gives the same bytes (900 random crops and
sizes, down, up and mixed). On JPEG files with a rotated or flipped EXIF orientation, or large shrinks,
libvips may cut differently and a few pixels per crop can differ by one grey level
(test/seasons/vipsResample.test.ts measures it).
"""

import math

import numpy as np

TRANSFORM_SCALE = 64  # VIPS_TRANSFORM_SCALE: sub-pixel steps of the reduce tables
INTERPOLATE_SHIFT = 12  # VIPS_INTERPOLATE_SHIFT: fixed-point bits of the coefficients
INTERPOLATE_SCALE = 1 << INTERPOLATE_SHIFT
GAP = 2.0  # vips_resize's default reducing gap
STRIP_HEIGHT = 16  # vips__thinstrip_height: the rows libvips' sink asks for at a time


def _round_uint(x):
    """VIPS_ROUND_UINT: (int) (x + 0.5)."""
    return int(x + 0.5)


def _box_shrink(a, factor, axis):
    """vips_shrinkv/h with ceil: mean of `factor` pixels, the last box padded with the edge pixel."""
    size = a.shape[axis]
    out = -(-size // factor)
    pad = out * factor - size
    if pad:
        widths = [(0, 0)] * a.ndim
        widths[axis] = (0, pad)
        a = np.pad(a, widths, mode="edge")
    shape = list(a.shape)
    shape[axis : axis + 1] = [out, factor]
    sums = a.reshape(shape).astype(np.uint64).sum(axis=axis + 1)
    # The vector path: (sum + factor / 2) * floor(2^32 / (256 factor)), the top 8 bits of 32.
    multiplier = (1 << 32) // (256 * factor)
    return ((((sums + factor // 2) * multiplier) & 0xFFFFFFFF) >> 24).astype(np.uint8)


def _linear_masks(n_points, shrink):
    """The reduce's coefficient tables: one per 1/64 pixel offset, 12-bit fixed point (truncated)."""
    masks = np.zeros((TRANSFORM_SCALE + 1, n_points), dtype=np.int64)
    for t in range(TRANSFORM_SCALE + 1):
        x = float(np.float32(t) / np.float32(TRANSFORM_SCALE))
        half = x + n_points / 2.0 - 1
        c = []
        for i in range(n_points):
            xp = abs((i - half) / shrink)
            c.append(1.0 - xp if xp < 1.0 else 0.0)
        total = sum(c)
        masks[t] = [int(v / total * INTERPOLATE_SCALE) for v in c]
    return masks


def _reduce(a, shrink, axis):
    """vips_reducev/h with the linear kernel and resize's gap, along one axis of an (h, w, c) array."""
    size = a.shape[axis]
    out = _round_uint(size / shrink)
    extra = out * shrink - size
    int_shrink = int(math.floor(size / out / GAP))
    if int_shrink > 1:
        a = _box_shrink(a, int_shrink, axis)
        shrink /= int_shrink
        extra /= int_shrink
    if shrink == 1.0:
        return a
    n_points = 2 * int(round(shrink)) + 1
    offset = (1 + extra) / 2.0 - 1
    masks = _linear_masks(n_points, shrink)
    left = int(math.ceil(n_points / 2.0)) - 1
    in_size = a.shape[axis]
    positions = []
    tables = []
    # The position of each output pixel, as libvips' generator reaches it: computed afresh at the start
    # of each region and then advanced by `shrink` per pixel (rounding accumulates). reduceh's regions
    # span the whole row; reducev's are the sink's strips of 16 rows (vips__thinstrip_height).
    strip = STRIP_HEIGHT if axis == 0 else out
    x = 0.0
    for o in range(out):
        if o % strip == 0:
            x = (o + 0.5) * shrink - 0.5 - offset
        else:
            x += shrink
        ix = int(x)
        sx = int(x * TRANSFORM_SCALE * 2)
        tx = ((sx & (TRANSFORM_SCALE * 2 - 1)) + 1) >> 1
        positions.append(ix)
        tables.append(tx)
    # Source index of each tap, in the frame padded by `left` copies of the edge.
    taps = np.asarray(positions)[:, None] + np.arange(n_points)[None, :] - left
    taps = np.clip(taps, 0, in_size - 1)
    weights = masks[np.asarray(tables)]  # (out, n_points)
    moved = np.moveaxis(a, axis, 0).astype(np.int64)  # (in, ...)
    gathered = moved[taps]  # (out, n_points, ...)
    w = weights.reshape(weights.shape + (1,) * (moved.ndim - 1))
    total = (gathered * w).sum(axis=1) + (INTERPOLATE_SCALE >> 1)
    result = np.clip(total >> INTERPOLATE_SHIFT, 0, 255).astype(np.uint8)
    return np.moveaxis(result, 0, axis)


def _bilinear(a, hscale, vscale, width, height):
    """vips_affine(hscale, 0, 0, vscale) with the bilinear interpolator, as vips_resize calls it.

    Output pixel (x, y) samples the input at (x / hscale - 0.5, y / vscale - 0.5) (input displacement
    0.5 on both axes, also on an axis whose scale is 1, which shifts it by half a pixel), edges copied.
    """
    src_h, src_w = a.shape[:2]

    # vips_affine inverts the matrix (ia = d / det, id = a / det, as (1 / det) * d), starts each output row at x = 0
    # and adds ia pixel by pixel; each row's y is computed afresh. The interpolator sees the input
    # less the input displacement of 0.5, framed by one copied pixel (window offset 1), in that order.
    inverse_det = 1.0 / (hscale * vscale - 0.0 * 0.0)
    ia = inverse_det * vscale
    id_ = inverse_det * hscale
    xs = np.empty(width, dtype=np.float64)
    x = 0.0 - 0.5 + 1.0
    for o in range(width):
        xs[o] = x
        x += ia
    ys = np.array([id_ * o - 0.5 + 1.0 for o in range(height)], dtype=np.float64)

    def axis(pos, size):
        whole = pos.astype(np.int64)
        sub = ((pos - whole) * INTERPOLATE_SCALE).astype(np.int64)
        i0 = np.clip(whole - 1, 0, size - 1)
        i1 = np.clip(whole, 0, size - 1)
        return i0, i1, sub

    x0, x1, sx = axis(xs, src_w)
    y0, y1, sy = axis(ys, src_h)
    # libvips' 8-bit bilinear: the x and y offsets in 12 bits, the right-hand weights truncated and
    # the left-hand ones taking the remainder, the sum rounded once.
    X = sx[None, :, None]
    Y = sy[:, None, None]
    Yd = INTERPOLATE_SCALE - Y
    c4 = (Y * X) >> INTERPOLATE_SHIFT
    c2 = (Yd * X) >> INTERPOLATE_SHIFT
    c3 = Y - c4
    c1 = Yd - c2
    p = a.astype(np.int64)
    total = c1 * p[y0][:, x0] + c2 * p[y0][:, x1] + c3 * p[y1][:, x0] + c4 * p[y1][:, x1]
    total = (total + (INTERPOLATE_SCALE >> 1)) >> INTERPOLATE_SHIFT
    return np.clip(total, 0, 255).astype(np.uint8)


def resize(pixels, width, height):
    """uint8 (h, w, c) -> uint8 (height, width, c), as sharp's resize(width, height, fill, linear)."""
    src_h, src_w = pixels.shape[:2]
    # sharp passes 1 / (source / target) to vips_resize, which reduces by 1 / scale.
    hscale = 1.0 / (src_w / width)
    vscale = 1.0 / (src_h / height)
    a = pixels
    if vscale < 1.0:
        a = _reduce(a, 1.0 / vscale, 0)
    if hscale < 1.0:
        a = _reduce(a, 1.0 / hscale, 1)
    if hscale > 1.0 or vscale > 1.0:
        a = _bilinear(a, max(hscale, 1.0), max(vscale, 1.0), width, height)
    if a.shape[:2] != (height, width):
        raise ValueError(f"resize reached {a.shape[1]}x{a.shape[0]}, not {width}x{height}")
    return a
