// What the checkpoint tests share: a saved record as bytes, the error a load
// gives (with the optimizer checked unchanged), little-endian fields read and
// written in place, records edited on purpose and sealed again, the data
// files, and every single-bit flip of a record refused.
#ifndef CLR_TESTS_CHECKPOINT_BYTES_HPP
#define CLR_TESTS_CHECKPOINT_BYTES_HPP

#include <clr/optim/checkpoint.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <ios>
#include <sstream>
#include <string>

namespace clr_test {

template <class Opt>
std::string saved(const Opt& opt) {
    std::ostringstream out;
    opt.save(out);
    return out.str();
}

// The message of the checkpoint_error load() throws, having checked that the
// optimizer is exactly as before.
template <class Opt>
std::string load_error(Opt& opt, const std::string& bytes) {
    const std::string before = saved(opt);
    const clr::step_t steps = opt.steps();
    std::string what = "(no error)";
    std::istringstream in(bytes);
    try {
        opt.load(in);
    } catch (const clr::optim::checkpoint_error& e) {
        what = e.what();
    }
    CHECK(saved(opt) == before);
    CHECK(opt.steps() == steps);
    return what;
}

inline std::uint64_t u64_at(const std::string& s, std::size_t offset) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i)
        v |= std::uint64_t(static_cast<unsigned char>(s[offset + i])) << (8 * i);
    return v;
}

inline std::uint64_t bits_of(double d) {
    std::uint64_t v;
    std::memcpy(&v, &d, 8);
    return v;
}

inline void put_u64(std::string& s, std::size_t offset, std::uint64_t v) {
    for (std::size_t i = 0; i < 8; ++i) s[offset + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

inline std::uint32_t u32_at(const std::string& s, std::size_t offset) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i)
        v |= std::uint32_t(static_cast<unsigned char>(s[offset + i])) << (8 * i);
    return v;
}

inline void put_u32(std::string& s, std::size_t offset, std::uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) s[offset + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A version-2 or -3 record edited on purpose: its length and checksum made
// right again, so that load() gets past them to the field under test.
inline std::string resealed(std::string s) {
    put_u64(s, 12, s.size() - 24);
    clr::detail::crc32c crc;
    crc.update(s.data(), s.size() - 4);
    put_u32(s, s.size() - 4, crc.value());
    return s;
}

inline std::string data_file(const std::string& name) {
    std::ifstream in(std::string(CLR_TEST_DATA_DIR) + "/" + name, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// How many of the single-bit flips of `good` load() refuses, each with a
// checkpoint_error from opt and leaving it as it was (all of them, for any
// record).
template <class Opt>
std::size_t refused_flips(Opt& opt, const std::string& good) {
    std::size_t refused = 0;
    for (std::size_t i = 0; i < good.size() * 8; ++i) {
        std::string bad = good;
        bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
        INFO("byte " << i / 8 << ", bit " << i % 8);
        const std::string what = load_error(opt, bad);
        CHECK_THAT(what, Catch::StartsWith(std::string(Opt::name) + "::load: "));
        refused += what != "(no error)" ? 1 : 0;
    }
    return refused;
}

// Every single-bit flip of a checkpoint of opt is refused, each leaving opt
// as it was; then opt's next step is the one a twin that never saw a damaged
// file takes.
template <class Opt, class Vec>
void check_bit_flips(Opt& opt, Vec& param, Opt& twin, Vec& twin_param) {
    const std::string good = saved(opt);
    CHECK(refused_flips(opt, good) == good.size() * 8);
    REQUIRE(param == twin_param);
    opt.step();
    twin.step();
    CHECK(param == twin_param);
    CHECK(saved(opt) == saved(twin));
}

}  // namespace clr_test

#endif
