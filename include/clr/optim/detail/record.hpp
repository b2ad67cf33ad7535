// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The optimizer checkpoint record (opt.save, opt.load) field by field; the
// layout itself is described in detail/optimizer.hpp. Here: the framing
// (length, body, checksum), the fields every version-2 and -3 body starts
// with, and the settings as a record holds them and load() compares them.
// Each section has a writer and a reader of its own, so that a new section
// is one more pair beside these and one more line in the optimizer's
// write_body and read_record.
//
//     recorded_settings now = ...;                     // the optimizer's settings
//     write_settings(w, now);                          // version 3
//     recorded_settings then = read_settings_v3<T>(r, now, name);
//     if (auto c = first_change(then, now)) ...        // "block 1's schedule differs: ..."
#ifndef CLR_OPTIM_DETAIL_RECORD_HPP
#define CLR_OPTIM_DETAIL_RECORD_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "../../any_schedule.hpp"
#include "../../schedule.hpp"
#include "../checkpoint.hpp"
#include "../decay_value.hpp"
#include "optimizer.hpp"

namespace clr::detail {

// A setting that may be a schedule, as a version-3 record holds it: u8 form,
// then an f64 (form 1) or a u32 length and that many bytes of text (form 2).
struct recorded_setting {
    enum form_type : std::uint8_t { inherited = 0, number = 1, schedule = 2 };
    std::uint8_t form = inherited;  // inherited: a block that follows the optimizer's schedule
    double value = 0.0;             // form number
    std::string text;               // form schedule: its text form, empty for one without
};

inline recorded_setting record_of(const optim::decay_value& d) {
    recorded_setting s;
    if (const auto n = d.number()) {
        s.form = recorded_setting::number;
        s.value = *n;
    } else {
        s.form = recorded_setting::schedule;
        s.text = d.text();
    }
    return s;
}

// A block's own schedule; nullptr: the block follows the optimizer's.
template <class T>
recorded_setting record_of(const any_schedule<T>* s) {
    recorded_setting r;
    if (s) {
        r.form = recorded_setting::schedule;
        r.text = text_or_empty(*s);
    }
    return r;
}

// The setting as a message shows it.
inline std::string shown(const recorded_setting& s) {
    if (s.form == recorded_setting::number) return to_text(s.value);
    if (s.form == recorded_setting::schedule) return s.text.empty() ? "one without a text form" : s.text;
    return "the optimizer's";
}

// Whether resume::same_settings lets a checkpoint holding `saved` resume with
// `current`: the same form and the same number or text. A schedule recorded
// without a text form cannot be checked, and matches any schedule.
inline bool same_setting(const recorded_setting& saved, const recorded_setting& current) {
    if (saved.form != current.form) return false;
    if (saved.form == recorded_setting::number) return saved.value == current.value;
    if (saved.form == recorded_setting::schedule) return saved.text.empty() || saved.text == current.text;
    return true;
}

// One block's entry: its size, its settings and the rate its last step applied.
struct recorded_block {
    std::uint64_t size = 0;
    double lr_scale = 1.0;
    recorded_setting schedule;      // inherited, or the block's own schedule
    recorded_setting decay;         // as applied: the block's own weight decay, or the optimizer's
    std::optional<double> last_lr;  // after lr_scale; empty before the block's first step
};

// Everything load() compares under resume::same_settings.
struct recorded_settings {
    std::string schedule;               // the optimizer's schedule's text form, empty if none
    std::vector<named_option> options;  // the optimizer's options but its weight decay
    recorded_setting decay;             // the optimizer's weight decay
    std::vector<recorded_block> blocks;
};

// The fields every version-2 and -3 body starts with.
template <class T>
struct record_head {
    step_t steps = 0;
    std::optional<T> last_lr, last_momentum;
};

template <class T>
bool representable(double v) noexcept {
    return std::isfinite(v) && std::abs(v) <= double(std::numeric_limits<T>::max()) && double(T(v)) == v;
}

template <class T>
T scaled_rate(T lr, double scale) noexcept {
    return scale == 1.0 ? lr : T(double(lr) * scale);
}

// ---- writing

inline void write_text(checkpoint_writer& w, const std::string& text, const std::string& what) {
    if (text.size() > std::numeric_limits<std::uint32_t>::max())
        throw optim::checkpoint_error(w.who() + ": " + what + "'s text form is longer than 2^32 - 1 bytes");
    w.integer(static_cast<std::uint32_t>(text.size()));
    w.bytes(text.data(), text.size());
}

inline void write_setting(checkpoint_writer& w, const recorded_setting& s, const std::string& what) {
    w.integer(s.form);
    if (s.form == recorded_setting::number) w.f64(s.value);
    if (s.form == recorded_setting::schedule) write_text(w, s.text, what);
}

template <class T>
void write_head(checkpoint_writer& w, std::uint8_t kind, const record_head<T>& h) {
    w.integer(static_cast<std::uint8_t>(sizeof(T)));
    w.integer(kind);
    w.integer(static_cast<std::uint64_t>(h.steps));
    w.integer(static_cast<std::uint8_t>((h.last_lr ? 1 : 0) | (h.last_momentum ? 2 : 0)));
    w.f64(h.last_lr ? double(*h.last_lr) : 0.0);
    w.f64(h.last_momentum ? double(*h.last_momentum) : 0.0);
}

inline void write_block(checkpoint_writer& w, const recorded_block& b, std::size_t index) {
    const std::string where = "block " + std::to_string(index);
    w.integer(b.size);
    w.f64(b.lr_scale);
    write_setting(w, b.schedule, where + "'s schedule");
    write_setting(w, b.decay, where + "'s weight decay schedule");
    w.integer(static_cast<std::uint8_t>(b.last_lr ? 1 : 0));
    w.f64(b.last_lr.value_or(0.0));
}

// Version 3: the options, the weight decay, the schedule, the blocks.
inline void write_settings(checkpoint_writer& w, const recorded_settings& s) {
    w.integer(static_cast<std::uint8_t>(s.options.size()));
    for (const auto& o : s.options) w.f64(o.value);
    write_setting(w, s.decay, "the weight decay schedule");
    write_text(w, s.schedule, "the schedule");
    w.integer(static_cast<std::uint64_t>(s.blocks.size()));
    for (std::size_t b = 0; b < s.blocks.size(); ++b) write_block(w, s.blocks[b], b);
}

// Magic, version, body length, the body (body(w) writes it, called twice:
// first only to count its bytes, so that nothing is held in memory), CRC-32C.
template <class Body>
void write_record(std::ostream& out, const std::string& who, Body&& body) {
    checkpoint_writer counter(who);
    body(counter);
    checkpoint_writer w(out, who);
    w.bytes(optimizer_magic, 8);
    w.integer(optimizer_version);
    w.integer(counter.count());
    body(w);
    w.integer(w.crc());
}

// ---- reading

// The body of a version-2 or -3 record, read whole and its checksum checked
// before any field in it is believed.
inline std::string read_body(checkpoint_reader& r) {
    const auto length = r.integer<std::uint64_t>("the record length");
    std::string body = r.text(length, "the record");
    const std::uint32_t computed = r.crc();
    const auto stored = r.integer<std::uint32_t>("the checksum");
    if (stored != computed)
        r.fail("checksum mismatch (the record says " + hex32(stored) + ", its bytes give " + hex32(computed) +
               "): the checkpoint is damaged");
    return body;
}

inline std::string read_text(checkpoint_reader& r, const std::string& what) {
    const auto n = r.integer<std::uint32_t>("the length of " + what);
    return r.text(n, what);
}

// `what` names the field ("the weight decay of block 1"); `forms` is the
// set of forms it may take, bit f for form f.
inline recorded_setting read_setting(checkpoint_reader& r, const std::string& what, unsigned forms) {
    static const char* const names[] = {"0 (the optimizer's)", "1 (a number)", "2 (a schedule)"};
    recorded_setting s;
    s.form = r.integer<std::uint8_t>("the form of " + what);
    if (s.form > recorded_setting::schedule || !(forms & (1u << s.form))) {
        std::string allowed;
        for (unsigned f = 0; f < 3; ++f)
            if (forms & (1u << f)) allowed += (allowed.empty() ? "" : " or ") + std::string(names[f]);
        r.fail("form of " + what + " is " + std::to_string(s.form) + ", not " + allowed + " (damaged file?)");
    }
    if (s.form == recorded_setting::number) {
        s.value = r.f64(what);
        if (!(std::isfinite(s.value) && s.value >= 0.0))
            r.fail(what + " is " + to_text(s.value) + ", not a finite number >= 0 (damaged file?)");
    }
    if (s.form == recorded_setting::schedule) s.text = read_text(r, "the text of " + what);
    return s;
}

inline void read_kind(checkpoint_reader& r, std::uint8_t kind, const char* name) {
    const auto got = r.integer<std::uint8_t>("the optimizer kind");
    if (got == kind) return;
    const char* other = optimizer_kind_name(got);
    if (!other) r.fail("unknown optimizer kind " + std::to_string(got) + " in the checkpoint");
    r.fail(std::string("checkpoint was written by ") + other + ", not " + name);
}

inline step_t read_steps(checkpoint_reader& r) {
    const auto t = r.integer<std::uint64_t>("the step counter");
    if (t > max_steps) r.fail("step counter " + std::to_string(t) + " is larger than 2^62 (damaged file?)");
    return static_cast<step_t>(t);
}

template <class T>
record_head<T> read_head(checkpoint_reader& r, std::uint8_t kind, const char* name) {
    record_head<T> h;
    r.scalar_size(sizeof(T));
    read_kind(r, kind, name);
    h.steps = read_steps(r);
    const auto flags = r.integer<std::uint8_t>("the last-step flags");
    if (flags > 3) r.fail("last-step flags are " + std::to_string(flags) + ", not 0 to 3 (damaged file?)");
    const double lr = r.f64("last_lr"), m = r.f64("last_momentum");
    if ((flags & 1) ? !(representable<T>(lr) && lr >= 0.0) : lr != 0.0)
        r.fail("last_lr = " + to_text(lr) + " is not a rate this optimizer applies (damaged file?)");
    if ((flags & 2) ? !(representable<T>(m) && m >= 0.0 && m < 1.0) : m != 0.0)
        r.fail("last_momentum = " + to_text(m) + " is not a momentum in [0, 1) (damaged file?)");
    if (flags & 1) h.last_lr = T(lr);
    if (flags & 2) h.last_momentum = T(m);
    return h;
}

// K f64 options, K being the optimizer's count (`current`, whose names they take).
inline std::vector<named_option> read_options(checkpoint_reader& r, const std::vector<named_option>& current,
                                              const char* name) {
    const auto count = r.integer<std::uint8_t>("the option count");
    if (count != current.size())
        r.fail("checkpoint has " + std::to_string(count) + " optimizer options, " + name + " has " +
               std::to_string(current.size()) + " (damaged file?)");
    std::vector<named_option> saved = current;
    for (auto& o : saved) o.value = r.f64(std::string("option ") + o.name);
    return saved;
}

template <class T>
std::optional<double> read_last_lr(checkpoint_reader& r, const std::string& where) {
    const auto flag = r.integer<std::uint8_t>("the last_lr flag of " + where);
    if (flag > 1)
        r.fail("last_lr flag of " + where + " is " + std::to_string(flag) + ", not 0 or 1 (damaged file?)");
    const double lr = r.f64("the last_lr of " + where);
    if (flag == 1 ? !(representable<T>(lr) && lr >= 0.0) : lr != 0.0)
        r.fail("last_lr of " + where + " = " + to_text(lr) +
               " is not a rate this optimizer applies (damaged file?)");
    if (flag == 0) return std::nullopt;
    return lr;
}

template <class T>
recorded_block read_block_v3(checkpoint_reader& r, std::size_t index, std::uint64_t size) {
    const std::string where = "block " + std::to_string(index);
    recorded_block b;
    r.block_size(index, static_cast<Eigen::Index>(size));
    b.size = size;
    b.lr_scale = r.f64("the lr_scale of " + where);
    if (!(std::isfinite(b.lr_scale) && b.lr_scale >= 0.0))
        r.fail("lr_scale of " + where + " is " + to_text(b.lr_scale) +
               ", not a finite number >= 0 (damaged file?)");
    constexpr unsigned own_or_not = 1u << recorded_setting::inherited | 1u << recorded_setting::schedule;
    constexpr unsigned number_or_schedule = 1u << recorded_setting::number | 1u << recorded_setting::schedule;
    b.schedule = read_setting(r, "the schedule of " + where, own_or_not);
    b.decay = read_setting(r, "the weight decay of " + where, number_or_schedule);
    b.last_lr = read_last_lr<T>(r, where);
    return b;
}

// Version 3's settings, checked against the optimizer's (`current`) where
// they must match: the option count, the block count and sizes.
template <class T>
recorded_settings read_settings_v3(checkpoint_reader& r, const recorded_settings& current, const char* name) {
    recorded_settings s;
    s.options = read_options(r, current.options, name);
    s.decay = read_setting(r, "the weight decay",
                           1u << recorded_setting::number | 1u << recorded_setting::schedule);
    s.schedule = read_text(r, "the schedule text");
    r.block_count(current.blocks.size());
    for (std::size_t b = 0; b < current.blocks.size(); ++b)
        s.blocks.push_back(read_block_v3<T>(r, b, current.blocks[b].size));
    return s;
}

// Version 2's, as version 3 holds them: its weight decay is a number, its
// fourth option; its blocks follow the optimizer's schedule, and their last
// rate is the optimizer's times their lr_scale.
template <class T>
recorded_settings read_settings_v2(checkpoint_reader& r, const recorded_settings& current, const char* name,
                                   std::optional<T> last_lr) {
    recorded_settings s;
    std::vector<named_option> with_decay = current.options;
    with_decay.push_back({"weight_decay", 0.0});
    s.options = read_options(r, with_decay, name);
    s.decay.form = recorded_setting::number;
    s.decay.value = s.options.back().value;
    s.options.pop_back();
    s.schedule = read_text(r, "the schedule text");
    r.block_count(current.blocks.size());
    for (std::size_t i = 0; i < current.blocks.size(); ++i) {
        r.block_size(i, static_cast<Eigen::Index>(current.blocks[i].size));
        const std::string where = "block " + std::to_string(i);
        recorded_block b;
        b.size = current.blocks[i].size;
        b.lr_scale = r.f64("the lr_scale of " + where);
        b.decay.form = recorded_setting::number;
        b.decay.value = r.f64("the weight decay of " + where);
        if (!(std::isfinite(b.lr_scale) && b.lr_scale >= 0.0 && std::isfinite(b.decay.value) &&
              b.decay.value >= 0.0))
            r.fail("options of " + where + " are lr_scale = " + to_text(b.lr_scale) +
                   ", weight decay = " + to_text(b.decay.value) + " (damaged file?)");
        if (last_lr) b.last_lr = double(scaled_rate(*last_lr, b.lr_scale));
        s.blocks.push_back(std::move(b));
    }
    return s;
}

// ---- comparing

struct setting_change {
    std::string setting, saved, current;
};

inline std::optional<setting_change> block_change(const recorded_block& saved, const recorded_block& current,
                                                  std::size_t index) {
    const std::string whose = "block " + std::to_string(index) + "'s ";
    if (!(saved.lr_scale == current.lr_scale))
        return setting_change{whose + "lr_scale", to_text(saved.lr_scale), to_text(current.lr_scale)};
    if (!same_setting(saved.schedule, current.schedule))
        return setting_change{whose + "schedule", shown(saved.schedule), shown(current.schedule)};
    if (!same_setting(saved.decay, current.decay))
        return setting_change{whose + "weight decay", shown(saved.decay), shown(current.decay)};
    return std::nullopt;
}

// The first setting in which a checkpoint (`saved`) differs from the
// optimizer (`current`), in record order. A schedule recorded without a text
// form is not compared.
inline std::optional<setting_change> first_change(const recorded_settings& saved,
                                                  const recorded_settings& current) {
    if (!saved.schedule.empty() && saved.schedule != current.schedule)
        return setting_change{"the schedule", saved.schedule,
                              current.schedule.empty() ? "one without a text form" : current.schedule};
    for (std::size_t i = 0; i < current.options.size(); ++i)
        if (!(saved.options[i].value == current.options[i].value))
            return setting_change{current.options[i].name, to_text(saved.options[i].value),
                                  to_text(current.options[i].value)};
    if (!same_setting(saved.decay, current.decay))
        return setting_change{"weight_decay", shown(saved.decay), shown(current.decay)};
    for (std::size_t b = 0; b < current.blocks.size(); ++b)
        if (auto change = block_change(saved.blocks[b], current.blocks[b], b)) return change;
    return std::nullopt;
}

inline void refuse_changes(const checkpoint_reader& r, const recorded_settings& saved,
                           const recorded_settings& current) {
    if (const auto c = first_change(saved, current))
        r.fail(c->setting + " differs: the checkpoint's is " + c->saved + ", this optimizer's is " +
               c->current + "; load with clr::optim::resume::new_settings if the change is intended");
}

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_RECORD_HPP
