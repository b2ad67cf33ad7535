// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Internals of clr::optim::optimizer (<clr/optim/optimizer.hpp>): option
// checks, the schedule's text form, and the optimizer checkpoint record.
//
// Optimizer checkpoint record (opt.save), all little-endian. The fields are
// written and read by detail/record.hpp, one section per function.
//
// Version 3, written after 0.3.0 (a schedule per block, scheduled weight decay):
//     offset 0    8 bytes "CLROPTIM"
//            8    u32 version = 3
//            12   u64 L, the length of the body that follows
//            20   the body, L bytes:
//                   u8  scalar size (4 float, 8 double)
//                   u8  optimizer kind (1 sgd, 2 adam, 3 adamw)
//                   u64 step counter, at most 2^62
//                   u8  bit 0: last_lr is set, bit 1: last_momentum is set
//                   f64 last_lr, f64 last_momentum (each 0 when not set)
//                   u8  K, then K x f64, the optimizer's options but the weight decay:
//                         sgd:         momentum, dampening, nesterov (0 or 1)
//                         adam, adamw: beta1, beta2, eps
//                   setting: the optimizer's weight decay (form 1 or 2)
//                   u32 S, then S bytes: the schedule's text form, empty
//                         for a schedule that has none
//                   u64 block count B, then per block:
//                         u64 size, f64 lr_scale,
//                         setting: its schedule (form 0, the optimizer's, or 2, its own)
//                         setting: its weight decay as applied, its own or the
//                               optimizer's (form 1 or 2)
//                         u8 1 if a step has updated it, else 0; f64 the rate that
//                               step applied, after lr_scale (opt.last_lr(b)), else 0
//                   B + 1 lists of plateau states: the schedule's, then each block's
//                         own schedule's (empty for a block that follows the
//                         optimizer's): u32 n, then n x (u64 reports, u64 reductions,
//                         u64 bad_reports, u64 cooldown_left, f64 best, f64 scale)
//                         (detail/plateau_record.hpp)
//                   B per-block states, in the scalar type:
//                         sgd:         u8 has_momentum_buffer (0/1), then the buffer if 1
//                         adam, adamw: u64 update count, exp_avg, exp_avg_sq
//            20+L u32 CRC-32C of bytes 0 .. 20+L (everything before it)
//     setting := u8 form, then
//                   form 0, the optimizer's: nothing
//                   form 1, a number:        f64, finite and >= 0
//                   form 2, a schedule:      u32 N, then N bytes of its text form
//                                            (clr::to_string; N = 0 for a schedule without one)
//     L = 53 + 8 K + S + 39 B + the states with K = 3, when every weight decay
//     is a number, every block follows the optimizer's schedule and no
//     schedule holds a plateau. A block schedule adds 4 bytes and its text; a
//     decay schedule, its text less 4 (a length in place of the 8-byte
//     number); a plateau, 48 bytes.
//
// Version 2, written by 0.2 and 0.3.0, still loaded:
//     the same framing; the body as version 3's up to the options, then
//                   u8  K = 4, then K x f64, the optimizer's options:
//                         sgd:         momentum, dampening, nesterov (0 or 1), weight_decay
//                         adam, adamw: beta1, beta2, eps, weight_decay
//                   u32 S, then S bytes: the schedule's text form
//                   u64 block count B, then per block:
//                         u64 size, f64 lr_scale, f64 weight decay as applied
//                   B per-block states, as version 3's
//     L = 40 + 8 K + S + 24 B + the states. Every weight decay is a number,
//     every block follows the optimizer's schedule, and a block's last rate
//     is last_lr times its lr_scale.
//     The length comes first so that the whole record is read, and its
//     checksum checked, before any field is believed.
//
// Version 1, written by 0.1, still loaded:
//     8 bytes "CLROPTIM", u32 version = 1, u8 scalar size, u8 optimizer kind,
//     u64 step counter, u64 block count B, B x u64 block sizes, then the B
//     per-block states as above. No settings, no last_lr, no checksum.
#ifndef CLR_OPTIM_DETAIL_OPTIMIZER_HPP
#define CLR_OPTIM_DETAIL_OPTIMIZER_HPP

#include <cstdint>
#include <string>

#include "../../schedule.hpp"
#include "../../text.hpp"
#include "../decay_value.hpp"

namespace clr::detail {

inline constexpr char optimizer_magic[9] = "CLROPTIM";
// Offset of the body in a version-2 or -3 record: magic, version, body length.
inline constexpr std::size_t optimizer_head_bytes = 20;

inline const char* optimizer_kind_name(std::uint8_t kind) noexcept {
    switch (kind) {
        case 1: return "clr::optim::sgd";
        case 2: return "clr::optim::adam";
        case 3: return "clr::optim::adamw";
        default: return nullptr;
    }
}

// Option checks, on the double the user wrote, before any narrowing to float.
inline double require_unit_interval(const char* who, const char* param, double v) {
    require_finite(who, param, v);
    if (!(v >= 0.0 && v <= 1.0)) fail(who, param, to_text(v), "must lie in [0, 1]");
    return v;
}

inline double require_weight_decay(const char* who, double v) { return require_rate(who, "weight_decay", v); }

// A number is checked here; a schedule at every step it is used.
inline const optim::decay_value& require_weight_decay(const char* who, const optim::decay_value& d) {
    if (const auto n = d.number()) require_weight_decay(who, *n);
    return d;
}

// An optimizer option as a checkpoint records it.
struct named_option {
    const char* name;
    double value;
};

// The schedule's text form (clr::to_string), recorded so that load() can
// tell that the schedule changed. Empty for a schedule without one (a cyclic
// schedule with a user scale function, a schedule class of the user's own):
// a checkpoint of such a schedule cannot be checked for a schedule change.
template <class S>
std::string schedule_text(const S& s) {
    return text_or_empty(s);
}

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_OPTIMIZER_HPP
