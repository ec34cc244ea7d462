"""Writes H.264 SPS NAL units bit by bit (the inverse of safezone.cameras.h264), so property
tests can cover syntax that our own encoders never emit (POC type 1, scaling lists, 4:2:2,
field coding, cropping, emulation prevention)."""

from __future__ import annotations

from dataclasses import dataclass, field

from safezone.cameras.h264 import HIGH_PROFILES


class BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, value: int) -> None:
        self.bits += [(value >> (n - 1 - i)) & 1 for i in range(n)]

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.u(length - 1, 0)
        self.u(length, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        bits = [*self.bits, 1]  # rbsp_stop_one_bit, then align with zeros
        bits += [0] * (-len(bits) % 8)
        return bytes(
            int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)
        )


def escape(rbsp: bytes) -> bytes:
    """Insert emulation-prevention bytes (00 00 0x with x <= 3 becomes 00 00 03 0x)."""
    out = bytearray()
    zeros = 0
    for b in rbsp:
        if zeros >= 2 and b <= 3:
            out.append(3)
            zeros = 0
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


@dataclass
class SpsFields:
    profile_idc: int = 66
    level_idc: int = 30
    sps_id: int = 0
    chroma_format_idc: int = 1
    separate_colour_plane: int = 0
    scaling_lists: list[list[int] | None] = field(default_factory=list)
    log2_max_frame_num_minus4: int = 0
    poc_type: int = 2
    poc_cycle: list[int] = field(default_factory=list)
    max_num_ref_frames: int = 1
    width_mbs: int = 40
    height_map_units: int = 23
    frame_mbs_only: int = 1
    crop: tuple[int, int, int, int] | None = None
    vui_timing: tuple[int, int] | None = None  # (num_units_in_tick, time_scale)
    aspect_ratio_idc: int | None = None
    video_signal: bool = False


def write_sps(f: SpsFields) -> bytes:
    """The SPS NAL unit (header byte 0x67) for ``f``."""
    w = BitWriter()
    w.u(8, f.profile_idc)
    w.u(8, 0)
    w.u(8, f.level_idc)
    w.ue(f.sps_id)
    if f.profile_idc in HIGH_PROFILES:
        w.ue(f.chroma_format_idc)
        if f.chroma_format_idc == 3:
            w.u(1, f.separate_colour_plane)
        w.ue(0)
        w.ue(0)
        w.u(1, 0)
        w.u(1, 1 if f.scaling_lists else 0)
        if f.scaling_lists:
            for i in range(8 if f.chroma_format_idc != 3 else 12):
                deltas = f.scaling_lists[i] if i < len(f.scaling_lists) else None
                w.u(1, 1 if deltas is not None else 0)
                if deltas is not None:
                    size = 16 if i < 6 else 64
                    last, written = 8, 0
                    for d in deltas[:size]:
                        w.se(d)
                        written += 1
                        last = (last + d + 256) % 256
                        if last == 0:
                            break
                    # A list that never reached 0 needs all its entries.
                    if last != 0:
                        for _ in range(size - written):
                            w.se(0)
    w.ue(f.log2_max_frame_num_minus4)
    w.ue(f.poc_type)
    if f.poc_type == 0:
        w.ue(2)
    elif f.poc_type == 1:
        w.u(1, 0)
        w.se(-1)
        w.se(2)
        w.ue(len(f.poc_cycle))
        for v in f.poc_cycle:
            w.se(v)
    w.ue(f.max_num_ref_frames)
    w.u(1, 0)
    w.ue(f.width_mbs - 1)
    w.ue(f.height_map_units - 1)
    w.u(1, f.frame_mbs_only)
    if not f.frame_mbs_only:
        w.u(1, 1)
    w.u(1, 1)
    if f.crop is not None:
        w.u(1, 1)
        for c in f.crop:
            w.ue(c)
    else:
        w.u(1, 0)
    vui = f.vui_timing is not None or f.aspect_ratio_idc is not None or f.video_signal
    w.u(1, 1 if vui else 0)
    if vui:
        w.u(1, 1 if f.aspect_ratio_idc is not None else 0)
        if f.aspect_ratio_idc is not None:
            w.u(8, f.aspect_ratio_idc)
            if f.aspect_ratio_idc == 255:
                w.u(16, 4)
                w.u(16, 3)
        w.u(1, 0)  # overscan
        w.u(1, 1 if f.video_signal else 0)
        if f.video_signal:
            w.u(3, 5)
            w.u(1, 0)
            w.u(1, 1)
            w.u(24, 0x010101)
        w.u(1, 0)  # chroma loc
        w.u(1, 1 if f.vui_timing else 0)
        if f.vui_timing:
            w.u(32, f.vui_timing[0])
            w.u(32, f.vui_timing[1])
            w.u(1, 1)
        w.u(1, 0)  # nal hrd
        w.u(1, 0)  # vcl hrd
        w.u(1, 0)  # pic_struct
        w.u(1, 0)  # bitstream restriction
    return b"\x67" + escape(w.rbsp())
