"""H.264 sequence parameter set (SPS) parsing: picture size and frame rate (ITU-T H.264 §7.3.2.1).

Cameras announce their SPS in the SDP (``sprop-parameter-sets``, RFC 6184), so a DESCRIBE is
enough to learn the resolution and, when the encoder writes VUI timing, the frame rate, without
receiving a single video packet.
"""

from __future__ import annotations

from dataclasses import dataclass

# Profiles whose SPS carries chroma format, bit depth and scaling lists (§7.3.2.1.1).
HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
# SubWidthC, SubHeightC per chroma_format_idc (Table 6-1); 0 is monochrome.
_SUB = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}


class SpsError(ValueError):
    """The bytes are not a well-formed H.264 SPS."""


@dataclass(frozen=True)
class Sps:
    """What the SPS says about the picture."""

    profile_idc: int
    level_idc: int
    chroma_format_idc: int
    width: int
    height: int
    fps: float | None  # from VUI timing, when present
    frame_mbs_only: bool


class BitReader:
    """Reads bits most-significant first, with exp-Golomb codes (§9.1). The bytes are held as
    one integer: an SPS is a few dozen bytes, and shifts beat a call per bit."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.size = len(data) * 8
        self.pos = 0

    def bits(self, n: int) -> int:
        if n == 0:
            return 0
        end = self.pos + n
        if end > self.size:
            raise SpsError("SPS ends early")
        self.pos = end
        return (self.value >> (self.size - end)) & ((1 << n) - 1)

    def bit(self) -> int:
        return self.bits(1)

    def ue(self) -> int:
        """Unsigned exp-Golomb: ``leading zeros``, a 1, then that many bits."""
        left = self.size - self.pos
        rest = self.value & ((1 << left) - 1)
        if rest == 0:
            raise SpsError("SPS ends early")
        zeros = left - rest.bit_length()
        if zeros > 31:  # no legal syntax element needs more than 32 bits
            raise SpsError("exp-Golomb code too long")
        self.pos += zeros + 1
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        """Signed exp-Golomb: 0, 1, -1, 2, -2, ..."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (``00 00 03`` → ``00 00``) to get the RBSP."""
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            delta = r.se()
            if not -128 <= delta <= 127:
                raise SpsError("scaling list delta out of range")
            nxt = (last + delta + 256) % 256
        last = nxt if nxt != 0 else last


def _vui_fps(r: BitReader) -> float | None:
    """Skip to timing_info in the VUI (Annex E.1.1) and derive the frame rate."""
    if r.bit():  # aspect_ratio_info_present_flag
        if r.bits(8) == 255:  # Extended_SAR
            r.bits(32)
    if r.bit():  # overscan_info_present_flag
        r.bit()
    if r.bit():  # video_signal_type_present_flag
        r.bits(4)
        if r.bit():  # colour_description_present_flag
            r.bits(24)
    if r.bit():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if not r.bit():  # timing_info_present_flag
        return None
    units, scale = r.bits(32), r.bits(32)
    if units == 0 or scale == 0:
        return None
    # One frame is two field ticks (E.2.1, with the usual field-based tick).
    return scale / (2 * units)


def parse_sps(nal: bytes) -> Sps:
    """Parse one SPS NAL unit (header byte included, emulation prevention still present)."""
    if not nal:
        raise SpsError("empty NAL unit")
    if nal[0] & 0x80 or nal[0] & 0x1F != 7:
        raise SpsError(f"not an SPS (NAL header 0x{nal[0]:02x})")
    r = BitReader(unescape(nal[1:]))
    profile = r.bits(8)
    r.bits(8)  # constraint_set flags + reserved
    level = r.bits(8)
    if r.ue() > 31:
        raise SpsError("seq_parameter_set_id out of range")
    chroma, separate_planes = 1, 0
    if profile in HIGH_PROFILES:
        chroma = r.ue()
        if chroma > 3:
            raise SpsError("chroma_format_idc out of range")
        if chroma == 3:
            separate_planes = r.bit()
        if r.ue() > 6 or r.ue() > 6:  # bit_depth_luma/chroma_minus8
            raise SpsError("bit depth out of range")
        r.bit()  # qpprime_y_zero_transform_bypass_flag
        if r.bit():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.bit():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    if r.ue() > 12:  # log2_max_frame_num_minus4
        raise SpsError("log2_max_frame_num out of range")
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.bit()
        r.se()
        r.se()
        cycle = r.ue()
        if cycle > 255:
            raise SpsError("num_ref_frames_in_pic_order_cnt_cycle out of range")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise SpsError("pic_order_cnt_type out of range")
    r.ue()  # max_num_ref_frames
    r.bit()  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.bit()
    if not frame_mbs_only:
        r.bit()  # mb_adaptive_frame_field_flag
    r.bit()  # direct_8x8_inference_flag
    crop = (r.ue(), r.ue(), r.ue(), r.ue()) if r.bit() else (0, 0, 0, 0)
    fps = _vui_fps(r) if r.bit() else None
    # Cropping is in chroma sample units (7.4.2.1.1, equations 7-19..7-22).
    array_type = 0 if separate_planes else chroma
    sub_w, sub_h = _SUB[array_type]
    unit_x = 1 if array_type == 0 else sub_w
    unit_y = (2 - frame_mbs_only) * (1 if array_type == 0 else sub_h)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise SpsError("cropping leaves no picture")
    return Sps(profile, level, chroma, width, height, fps, bool(frame_mbs_only))
