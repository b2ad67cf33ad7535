// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Binary checkpoint I/O for the optimizers, and save_blocks / load_blocks for
// the parameters themselves (which the optimizer only borrows):
//
//     std::ofstream out("run.ckpt", std::ios::binary);
//     clr::optim::save_blocks(out, w1, b1, w2, b2);   // parameters
//     opt.save(out);                                  // optimizer state
//     ...
//     std::ifstream in("run.ckpt", std::ios::binary);
//     clr::optim::load_blocks(in, w1, b1, w2, b2);
//     opt.load(in);                                   // same blocks registered
//
// Every integer and value is stored little-endian, whatever the host. Loading
// reads and checks the whole record before touching anything, so a bad file
// leaves the destination unchanged.
//
// Parameter record (save_blocks):
//     8 bytes "CLRBLOCK", u32 version = 1, u8 scalar size (4 or 8),
//     u64 block count B, B x u64 block sizes, then each block's values in
//     storage order.
#ifndef CLR_OPTIM_DETAIL_CHECKPOINT_HPP
#define CLR_OPTIM_DETAIL_CHECKPOINT_HPP

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "block.hpp"

namespace clr::optim {

// Thrown by every checkpoint read or write that fails: wrong file, damaged or
// truncated file, or a file that does not match the registered blocks.
class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace clr::optim

namespace clr::detail {

inline constexpr std::uint32_t checkpoint_version = 1;

inline bool host_is_little_endian() noexcept {
    const std::uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

inline const char* scalar_name(std::size_t bytes) noexcept {
    return bytes == 4 ? "float" : bytes == 8 ? "double" : "unknown";
}

class checkpoint_writer {
public:
    checkpoint_writer(std::ostream& out, std::string who) : out_(out), who_(std::move(who)) {}

    void bytes(const char* p, std::size_t n) {
        out_.write(p, static_cast<std::streamsize>(n));
        if (!out_) throw clr::optim::checkpoint_error(who_ + ": writing the checkpoint failed");
    }

    template <class U>
    void integer(U v) {
        static_assert(std::is_unsigned_v<U>);
        std::array<char, sizeof(U)> b{};
        for (std::size_t i = 0; i < sizeof(U); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
        bytes(b.data(), b.size());
    }

    template <class T>
    void values(const T* p, Eigen::Index n) {
        static_assert(std::is_floating_point_v<T>);
        if (host_is_little_endian()) {
            bytes(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n) * sizeof(T));
            return;
        }
        std::array<char, 512 * sizeof(T)> buf{};
        for (Eigen::Index i = 0; i < n;) {
            const Eigen::Index m = std::min<Eigen::Index>(512, n - i);
            for (Eigen::Index k = 0; k < m; ++k) {
                char* dst = buf.data() + k * sizeof(T);
                std::memcpy(dst, p + i + k, sizeof(T));
                std::reverse(dst, dst + sizeof(T));
            }
            bytes(buf.data(), static_cast<std::size_t>(m) * sizeof(T));
            i += m;
        }
    }

private:
    std::ostream& out_;
    std::string who_;
};

class checkpoint_reader {
public:
    checkpoint_reader(std::istream& in, std::string who) : in_(in), who_(std::move(who)) {}

    const std::string& who() const noexcept { return who_; }

    [[noreturn]] void fail(const std::string& problem) const {
        throw clr::optim::checkpoint_error(who_ + ": " + problem);
    }

    // `what` names the field being read, so a truncated file says where.
    void bytes(char* p, std::size_t n, const std::string& what) {
        in_.read(p, static_cast<std::streamsize>(n));
        if (static_cast<std::size_t>(in_.gcount()) != n)
            fail("checkpoint is truncated (reading " + what + ")");
    }

    template <class U>
    U integer(const std::string& what) {
        static_assert(std::is_unsigned_v<U>);
        std::array<char, sizeof(U)> b{};
        bytes(b.data(), b.size(), what);
        U v = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i)
            v |= static_cast<U>(static_cast<unsigned char>(b[i])) << (8 * i);
        return v;
    }

    template <class T>
    void values(T* p, Eigen::Index n, const std::string& what) {
        bytes(reinterpret_cast<char*>(p), static_cast<std::size_t>(n) * sizeof(T), what);
        if (!host_is_little_endian())
            for (Eigen::Index k = 0; k < n; ++k) {
                char* c = reinterpret_cast<char*>(p + k);
                std::reverse(c, c + sizeof(T));
            }
    }

    // The fields every record starts with: magic, version and scalar size.
    void header(const char (&magic)[9], const char* kind, std::size_t scalar_bytes) {
        char got[8];
        bytes(got, 8, "the magic tag");
        if (std::memcmp(got, magic, 8) != 0)
            fail(std::string("not a ") + kind + " (wrong magic tag, expected \"" + magic + "\")");
        const auto version = integer<std::uint32_t>("the format version");
        if (version != checkpoint_version)
            fail("checkpoint format version " + std::to_string(version) +
                 " is not supported (this build reads version " + std::to_string(checkpoint_version) + ")");
        const auto size = integer<std::uint8_t>("the scalar size");
        if (size != scalar_bytes)
            fail("checkpoint holds " + std::to_string(size) + "-byte values (" + scalar_name(size) +
                 "), this side uses " + std::to_string(scalar_bytes) + "-byte values (" +
                 scalar_name(scalar_bytes) + ")");
    }

    // Block count and sizes, checked against what the caller has.
    template <class SizeAt>
    void block_sizes(std::size_t expected_count, SizeAt size_at) {
        const auto count = integer<std::uint64_t>("the block count");
        if (count != expected_count)
            fail("checkpoint has " + std::to_string(count) + " blocks, " + std::to_string(expected_count) +
                 (expected_count == 1 ? " is" : " are") + " registered");
        for (std::size_t b = 0; b < expected_count; ++b) {
            const auto n = integer<std::uint64_t>("the size of block " + std::to_string(b));
            const auto want = static_cast<std::uint64_t>(size_at(b));
            if (n != want)
                fail("block " + std::to_string(b) + " has " + std::to_string(want) + " values, checkpoint has " +
                     std::to_string(n));
        }
    }

private:
    std::istream& in_;
    std::string who_;
};

inline constexpr char blocks_magic[9] = "CLRBLOCK";

template <class T>
struct block_view {
    T* data;
    Eigen::Index size;
};

template <class T, class E>
block_view<T> view_of(const std::string& who, std::size_t index, E& e) {
    require_contiguous(who, ("block " + std::to_string(index)).c_str(), e);
    return {const_cast<T*>(e.data()), e.size()};
}

}  // namespace clr::detail

namespace clr::optim {

// Writes the values of each block (any contiguous Eigen Matrix, Array or Map;
// all of one scalar type, float or double) in the format described at the top
// of this file.
template <class First, class... Rest>
void save_blocks(std::ostream& out, const First& first, const Rest&... rest) {
    using T = typename First::Scalar;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "clr::optim::save_blocks: blocks must hold float or double");
    detail::check_block_type<T, const First&, false>();
    (detail::check_block_type<T, const Rest&, false>(), ...);
    const std::string who = "clr::optim::save_blocks";
    std::size_t index = 0;
    const std::vector<detail::block_view<T>> views{detail::view_of<T>(who, index++, first),
                                                   detail::view_of<T>(who, index++, rest)...};
    detail::checkpoint_writer w(out, who);
    w.bytes(detail::blocks_magic, 8);
    w.integer(detail::checkpoint_version);
    w.integer(static_cast<std::uint8_t>(sizeof(T)));
    w.integer(static_cast<std::uint64_t>(views.size()));
    for (const auto& v : views) w.integer(static_cast<std::uint64_t>(v.size));
    for (const auto& v : views) w.values(v.data, v.size);
}

// Reads what save_blocks wrote into blocks of the same sizes, in the same
// order. Checks everything first: on any error no block is modified.
template <class First, class... Rest>
void load_blocks(std::istream& in, First&& first, Rest&&... rest) {
    using T = typename detail::eigen_expr_t<First>::Scalar;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                  "clr::optim::load_blocks: blocks must hold float or double");
    detail::check_block_type<T, First, true>();
    (detail::check_block_type<T, Rest, true>(), ...);
    const std::string who = "clr::optim::load_blocks";
    std::size_t index = 0;
    const std::vector<detail::block_view<T>> views{detail::view_of<T>(who, index++, first),
                                                   detail::view_of<T>(who, index++, rest)...};
    detail::checkpoint_reader r(in, who);
    r.header(detail::blocks_magic, "clr parameter file", sizeof(T));
    r.block_sizes(views.size(), [&](std::size_t b) { return views[b].size; });
    std::vector<std::vector<T>> staged(views.size());
    for (std::size_t b = 0; b < views.size(); ++b) {
        staged[b].resize(static_cast<std::size_t>(views[b].size));
        r.values(staged[b].data(), views[b].size, "the values of block " + std::to_string(b));
    }
    for (std::size_t b = 0; b < views.size(); ++b) std::copy(staged[b].begin(), staged[b].end(), views[b].data);
}

}  // namespace clr::optim

#endif  // CLR_OPTIM_DETAIL_CHECKPOINT_HPP
