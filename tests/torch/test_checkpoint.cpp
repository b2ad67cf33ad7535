// clr::torch's checkpoints under damage: the scheduler's record with any one
// bit flipped, or cut short, is refused before any field is used; files
// written by clr::torch::save carry a CRC-32C that check_checkpoint verifies
// without libtorch, for every single-bit flip and truncation of a file.
#include "torch_model.hpp"

#include <clr/torch.hpp>

#include <torch/serialize.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace clr_torch_test;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

auto schedule() { return clr::triangular<double>(0.01, 0.1, 10).with_momentum(0.8, 0.95); }
using scheduler_t = clr::torch::scheduler<decltype(schedule())>;

::torch::optim::SGDOptions sgd_options() { return ::torch::optim::SGDOptions(0.05).momentum(0.9); }

// A file in the test's working directory, removed at the end of the scope.
struct temp_file {
    explicit temp_file(std::string name) : path(std::move(name)) {}
    ~temp_file() { std::remove(path.c_str()); }
    std::string path;
};

std::string archive_bytes(::torch::serialize::OutputArchive& a) {
    std::string bytes;
    a.save_to([&](const void* p, std::size_t n) {
        bytes.append(static_cast<const char*>(p), n);
        return n;
    });
    return bytes;
}

::torch::serialize::InputArchive input_of(const std::string& bytes) {
    ::torch::serialize::InputArchive in;
    in.load_from(bytes.data(), bytes.size());
    return in;
}

// The values of a scheduler's entry ("clr_scheduler") as the archive holds
// them: whatever the format's keys are.
struct entry_value {
    std::string key;
    c10::IValue value;
};

std::vector<entry_value> entry_of(const scheduler_t& s) {
    ::torch::serialize::OutputArchive out;
    s.save(out);
    auto in = input_of(archive_bytes(out));
    ::torch::serialize::InputArchive entry;
    in.read("clr_scheduler", entry);
    std::vector<entry_value> values;
    for (const auto& key : entry.keys()) {
        c10::IValue v;
        entry.read(key, v);
        // A module's own flag, not the scheduler's.
        if (key != "training") values.push_back({key, v});
    }
    return values;
}

// Loads an archive whose scheduler entry holds `values`.
void load_entry(scheduler_t& s, const std::vector<entry_value>& values) {
    ::torch::serialize::OutputArchive entry, out;
    for (const auto& v : values) entry.write(v.key, v.value);
    out.write("clr_scheduler", entry);
    auto in = input_of(archive_bytes(out));
    s.load(in);
}

std::vector<entry_value> only_record(const c10::IValue& record) { return {{"record", record}}; }

// Each value with one bit flipped or, for text and lists, cut short: the
// damage a file can do to a value that libtorch's reader still decodes.
void for_each_damage(const c10::IValue& v,
                     const std::function<void(const c10::IValue&, const std::string&)>& f) {
    if (v.isInt()) {
        for (int bit = 0; bit < 64; ++bit)
            f(c10::IValue(static_cast<std::int64_t>(static_cast<std::uint64_t>(v.toInt()) ^
                                                    (std::uint64_t(1) << bit))),
              "bit " + std::to_string(bit));
    } else if (v.isString()) {
        const std::string& s = v.toStringRef();
        for (std::size_t i = 0; i < s.size() * 8; ++i) {
            std::string d = s;
            d[i / 8] = static_cast<char>(d[i / 8] ^ (1 << (i % 8)));
            f(c10::IValue(d), "bit " + std::to_string(i));
        }
        for (std::size_t n = 0; n < s.size(); ++n)
            f(c10::IValue(s.substr(0, n)), "cut to " + std::to_string(n) + " bytes");
    } else if (v.isDoubleList()) {
        const std::vector<double> d = v.toDoubleVector();
        for (std::size_t i = 0; i < d.size() * 64; ++i) {
            std::vector<double> e = d;
            std::uint64_t bits;
            std::memcpy(&bits, &e[i / 64], 8);
            bits ^= std::uint64_t(1) << (i % 64);
            std::memcpy(&e[i / 64], &bits, 8);
            f(c10::IValue(e), "bit " + std::to_string(i));
        }
        for (std::size_t n = 0; n < d.size(); ++n)
            f(c10::IValue(std::vector<double>(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n))),
              "cut to " + std::to_string(n) + " values");
    } else {
        FAIL("the scheduler entry holds a value of type " << v.tagKind() << " the test cannot damage");
    }
}

std::string record_of(const scheduler_t& s) {
    const auto values = entry_of(s);
    REQUIRE(values.size() == 1);
    REQUIRE(values[0].key == "record");
    return values[0].value.toStringRef();
}

// The record with its checksum recomputed: a record that is whole, with a
// field no save() writes.
std::string resealed(std::string record) {
    record.resize(record.size() - 4);
    clr::detail::crc32c crc;
    crc.update(record.data(), record.size());
    for (int i = 0; i < 4; ++i) record += static_cast<char>((crc.value() >> (8 * i)) & 0xFFu);
    return record;
}

std::uint32_t stored_crc(const std::string& record) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i)
        v |= static_cast<std::uint32_t>(static_cast<unsigned char>(record[record.size() - 4 + i])) << (8 * i);
    return v;
}

void put_u64(std::string& record, std::size_t at, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) record[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out);
}

// The message check_checkpoint throws for `path`, or "" if it passes.
std::string check_message(const std::string& path) {
    try {
        clr::torch::check_checkpoint(path);
    } catch (const clr::torch::checkpoint_error& e) {
        return e.what();
    }
    return {};
}

}  // namespace

// No semicolon in a test's name: CMake would split it into two ctest tests
// that match nothing (see CMakeLists.txt).
TEST_CASE(
    "the scheduler's entry with any one bit of a value flipped, or a value cut short, is refused and "
    "leaves the scheduler unchanged",
    "[torch][checkpoint]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t saved(opt, schedule(), {1.0, 0.5});
    saved.set_steps(123);
    const auto values = entry_of(saved);

    scheduler_t fresh(opt, schedule(), {1.0, 0.5});
    fresh.set_steps(7);
    std::size_t tried = 0;
    std::vector<std::string> accepted;
    for (std::size_t k = 0; k < values.size(); ++k) {
        for_each_damage(values[k].value, [&](const c10::IValue& damaged, const std::string& how) {
            auto changed = values;
            changed[k].value = damaged;
            ++tried;
            bool refused = false;
            try {
                load_entry(fresh, changed);
            } catch (const clr::torch::checkpoint_error&) {
                refused = true;
            }
            if (!refused || fresh.steps() != 7 ||
                opt.param_groups()[1].options().get_lr() != schedule().lr(7) * 0.5)
                accepted.push_back("'" + values[k].key + "' " + how + ": loaded step " +
                                   std::to_string(fresh.steps()));
            fresh.set_steps(7);
        });
    }
    INFO(tried << " damaged entries tried");
    CHECK(tried > 1000);
    CAPTURE(accepted.size());
    if (!accepted.empty())
        FAIL_CHECK("accepted: " << accepted.front() << (accepted.size() > 1 ? ", ..." : ""));
    // The undamaged entry loads.
    load_entry(fresh, values);
    CHECK(fresh.steps() == 123);
}

TEST_CASE("the scheduler's record: its layout, and what each refusal says", "[torch][checkpoint][errors]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t saved(opt, schedule(), {1.0, 0.5});
    saved.set_steps(123);
    const std::string record = record_of(saved);
    const std::string text = clr::to_string(schedule());
    // "CLRSCHED", version, steps, length and text, group count and scales, CRC-32C.
    REQUIRE(record.size() == 8 + 4 + 8 + 8 + text.size() + 8 + std::size_t{2} * 8 + 4);
    CHECK(record.compare(0, 8, "CLRSCHED") == 0);
    CHECK(record.compare(28, text.size(), text) == 0);
    CHECK(stored_crc(resealed(record)) == stored_crc(record));

    scheduler_t fresh(opt, schedule(), {1.0, 0.5});
    fresh.set_steps(7);
    auto refused_with = [&](const std::string& r, const std::string& message) {
        CHECK_THROWS_WITH(load_entry(fresh, only_record(c10::IValue(r))), message);
        CHECK(fresh.steps() == 7);
    };
    const std::string who = "clr::torch::scheduler::load: ";

    SECTION("the step count's lowest bit flipped: 122 is not loaded") {
        std::string d = record;
        d[12] = static_cast<char>(d[12] ^ 1);
        clr::detail::crc32c crc;
        crc.update(d.data(), d.size() - 4);
        refused_with(d, who + "checksum mismatch in the scheduler record (the record says " +
                            clr::detail::hex32(stored_crc(record)) + ", its bytes give " +
                            clr::detail::hex32(crc.value()) + "): the archive is damaged");
    }
    SECTION("shorter than any record") {
        refused_with(record.substr(0, 39),
                     who + "the scheduler record is 39 bytes, shorter than any (damaged file?)");
    }
    SECTION("whole, with fields no save() writes") {
        std::string d = record;
        d[3] = 'X';
        refused_with(resealed(d), who + "the scheduler record does not start with \"CLRSCHED\"");
        d = record;
        d[8] = 3;
        refused_with(resealed(d), who + "scheduler record version 3, this build reads versions 1 and 2");
        d = record;
        put_u64(d, 12, (std::uint64_t(1) << 62) + 1);
        refused_with(resealed(d),
                     who + "the step count 4611686018427387905 is larger than 2^62 (damaged file?)");
        d = record;
        put_u64(d, 20, std::uint64_t(1) << 40);
        refused_with(resealed(d),
                     who + "the record is too short for the schedule's text form (damaged file?)");
        d = record;
        put_u64(d, 28 + text.size(), std::uint64_t(1) << 61);
        refused_with(
            resealed(d),
            who + "the record is too short for its 2305843009213693952 group scales (damaged file?)");
        d = record;
        d.insert(d.size() - 4, "x");
        refused_with(resealed(d),
                     who + "the scheduler record has 1 byte after its group scales (damaged file?)");
    }
    SECTION("not a string") {
        refused_with(std::string(),
                     who + "the scheduler record is 0 bytes, shorter than any (damaged file?)");
        CHECK_THROWS_WITH(load_entry(fresh, only_record(c10::IValue(std::int64_t(5)))),
                          who + "the scheduler record is not a byte string (damaged file?)");
    }
}

TEST_CASE("a format-1 scheduler entry, written before the record had a checksum, still loads",
          "[torch][checkpoint]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t fresh(opt, schedule(), {1.0, 0.5});
    std::vector<entry_value> v1{{"format", c10::IValue(std::int64_t(1))},
                                {"steps", c10::IValue(std::int64_t(41))},
                                {"schedule", c10::IValue(clr::to_string(schedule()))},
                                {"group_scales", c10::IValue(std::vector<double>{1.0, 0.5})}};
    load_entry(fresh, v1);
    CHECK(fresh.steps() == 41);
    CHECK(opt.param_groups()[1].options().get_lr() == schedule().lr(41) * 0.5);
    // An entry of format 2 is a record: its fields alone are no entry.
    v1[0].value = c10::IValue(std::int64_t(2));
    CHECK_THROWS_WITH(
        load_entry(fresh, v1),
        "clr::torch::scheduler::load: the archive's scheduler entry has no 'record' (damaged file?)");
    v1[0].value = c10::IValue(std::int64_t(3));
    CHECK_THROWS_WITH(load_entry(fresh, v1),
                      "clr::torch::scheduler::load: scheduler format 3, this build reads formats 1 and 2");
    CHECK(fresh.steps() == 41);
}

TEST_CASE("clr::torch::save writes what torch::load reads, and check_checkpoint passes it",
          "[torch][checkpoint]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t sched(opt, schedule(), {1.0, 0.5});
    sched.set_steps(23);
    temp_file f("torch_checked_sched.pt"), shared("torch_checked_shared.pt"),
        tensors("torch_checked_tensors.pt");

    clr::torch::save(sched, f.path);
    CHECK(check_message(f.path).empty());
    scheduler_t plain(opt, schedule(), {1.0, 0.5}), checked(opt, schedule(), {1.0, 0.5});
    ::torch::load(plain, f.path);  // still a libtorch archive
    clr::torch::load(checked, f.path);
    CHECK(plain.steps() == 23);
    CHECK(checked.steps() == 23);

    // The optimizer's and the scheduler's state in one archive.
    ::torch::serialize::OutputArchive archive;
    opt.save(archive);
    sched.save(archive);
    clr::torch::save(archive, shared.path);
    CHECK(check_message(shared.path).empty());
    ::torch::serialize::InputArchive in;
    in.load_from(shared.path);
    scheduler_t from_shared(opt, schedule(), {1.0, 0.5});
    from_shared.load(in);
    CHECK(from_shared.steps() == 23);

    clr::torch::save(p, tensors.path);
    std::vector<::torch::Tensor> loaded;
    clr::torch::load(loaded, tensors.path);
    REQUIRE(loaded.size() == p.size());
    for (std::size_t i = 0; i < p.size(); ++i) CHECK(::torch::equal(loaded[i], p[i]));

    ::torch::manual_seed(1);
    ::torch::nn::Linear layer(4, 3), back(4, 3);
    clr::torch::save(layer, tensors.path);
    clr::torch::load(back, tensors.path);
    CHECK(::torch::equal(back->weight, layer->weight));
    CHECK(::torch::equal(back->bias, layer->bias));
}

TEST_CASE("check_checkpoint refuses every single-bit flip and every truncation of a checked file",
          "[torch][checkpoint]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t sched(opt, schedule(), {1.0, 0.5});
    sched.set_steps(123);
    temp_file f("torch_checked_flips.pt"), damaged("torch_checked_damaged.pt");
    ::torch::serialize::OutputArchive archive;
    opt.save(archive);
    sched.save(archive);
    clr::torch::save(archive, f.path);
    const std::string good = file_bytes(f.path);
    REQUIRE(good.size() > 1000);
    CHECK(good.compare(good.size() - 19, 11, "clr-crc32c ") == 0);

    std::vector<std::string> passed;
    write_file(damaged.path, good);
    {
        // In place, through one stream flushed before each check: flip,
        // check, flip back.
        std::fstream io(damaged.path, std::ios::binary | std::ios::in | std::ios::out);
        auto put = [&](std::size_t at, char c) {
            io.seekp(static_cast<std::streamoff>(at));
            io.put(c);
            io.flush();
        };
        for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
            const std::size_t at = bit / 8;
            put(at, static_cast<char>(good[at] ^ (1 << (bit % 8))));
            if (check_message(damaged.path).empty()) passed.push_back("bit " + std::to_string(bit));
            put(at, good[at]);
        }
        REQUIRE(io);
    }
    for (std::size_t n = 0; n < good.size(); ++n) {
        write_file(damaged.path, good.substr(0, n));
        if (check_message(damaged.path).empty()) passed.push_back("cut to " + std::to_string(n) + " bytes");
    }
    CAPTURE(good.size());
    CAPTURE(passed.size());
    if (!passed.empty()) FAIL_CHECK("passed: " << passed.front() << (passed.size() > 1 ? ", ..." : ""));

    SECTION("what the refusals say") {
        std::string d = good;
        d[100] = static_cast<char>(d[100] ^ 4);
        write_file(damaged.path, d);
        CHECK_THAT(
            check_message(damaged.path),
            StartsWith("clr::torch::check_checkpoint: torch_checked_damaged.pt: checksum mismatch (the file "
                       "says 0x") &&
                Contains(", its bytes give 0x") && Contains("): the file is damaged"));
        CHECK_THROWS_AS(clr::torch::load(sched, damaged.path), clr::torch::checkpoint_error);
        CHECK(sched.steps() == 123);
        write_file(damaged.path, good.substr(0, good.size() - 1));
        CHECK(check_message(damaged.path) ==
              "clr::torch::check_checkpoint: torch_checked_damaged.pt: does not end in a clr checksum: cut "
              "short, damaged, or not written by clr::torch::save");
        ::torch::save(sched, damaged.path);
        CHECK(
            check_message(damaged.path) ==
            "clr::torch::check_checkpoint: torch_checked_damaged.pt: has no checksum: it ends as torch::save "
            "leaves a file; write it with clr::torch::save to have one");
        CHECK(check_message("torch_no_such_file.pt") ==
              "clr::torch::check_checkpoint: torch_no_such_file.pt: cannot open: No such file or directory");
    }
}

TEST_CASE("clr::torch::save names a file it cannot write", "[torch][checkpoint][errors]") {
    auto p = model();
    ::torch::optim::SGD opt(groups(p), sgd_options());
    scheduler_t sched(opt, schedule());
    CHECK_THROWS_WITH(
        clr::torch::save(sched, "no_such_dir/sched.pt"),
        "clr::torch::save: no_such_dir/sched.pt: cannot open for writing: No such file or directory");
    std::ofstream probe("/dev/full");
    if (probe) {
        CHECK_THROWS_WITH(clr::torch::save(sched, "/dev/full"),
                          "clr::torch::save: /dev/full: writing failed: No space left on device");
    }
}
