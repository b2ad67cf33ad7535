// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The byte-level side of checkpoints: little-endian readers and writers, the
// CRC-32C of optimizer records, the fields every record starts with. Included
// by <clr/optim/checkpoint.hpp> once clr::optim::checkpoint_error is declared;
// the formats themselves are described there (parameter files) and in
// detail/optimizer.hpp (optimizer records).
//
// Every integer and value is stored little-endian, whatever the host.
#ifndef CLR_OPTIM_DETAIL_CHECKPOINT_HPP
#define CLR_OPTIM_DETAIL_CHECKPOINT_HPP

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ios>
#include <istream>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "../../detail/crc32c.hpp"
#include "../../schedule.hpp"
#include "block.hpp"

namespace clr::detail {

// Both records gained a CRC-32C in version 2 (optimizer records their
// settings too), parameter records their blocks' shapes in version 3, and
// optimizer records each block's schedule and scheduled weight decays in
// version 3; every earlier version of either still reads.
inline constexpr std::uint32_t blocks_version = 3;
inline constexpr std::uint32_t optimizer_version = 3;

inline bool host_is_little_endian() noexcept {
    const std::uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

inline const char* scalar_name(std::size_t bytes) noexcept {
    return bytes == 4 ? "float" : bytes == 8 ? "double" : "unknown";
}

// Writes to a stream, or (without one) only counts the bytes it would write:
// save() counts its record first, so that the length can precede it without
// the record ever being held in memory.
class checkpoint_writer {
public:
    checkpoint_writer(std::ostream& out, std::string who) : out_(&out), who_(std::move(who)) {}
    explicit checkpoint_writer(std::string who) : who_(std::move(who)) {}

    void bytes(const char* p, std::size_t n) {
        count_ += n;
        if (!out_) return;
        crc_.update(p, n);
        // A stream with exceptions() enabled throws ios_base::failure; the
        // caller is promised checkpoint_error whatever the stream's settings.
        bool ok = false;
        try {
            out_->write(p, static_cast<std::streamsize>(n));
            ok = bool(*out_);
        } catch (const std::ios_base::failure&) {
            ok = false;
        }
        if (!ok) throw clr::optim::checkpoint_error(who_ + ": writing the checkpoint failed");
    }

    template <class U>
    void integer(U v) {
        static_assert(std::is_unsigned_v<U>);
        std::array<char, sizeof(U)> b{};
        for (std::size_t i = 0; i < sizeof(U); ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
        bytes(b.data(), b.size());
    }

    void f64(double v) {
        std::uint64_t bits;
        std::memcpy(&bits, &v, 8);
        integer(bits);
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

    std::uint64_t count() const noexcept { return count_; }
    std::uint32_t crc() const noexcept { return crc_.value(); }
    const std::string& who() const noexcept { return who_; }

private:
    std::ostream* out_ = nullptr;
    std::string who_;
    std::uint64_t count_ = 0;
    crc32c crc_;
};

// A block's shape as a parameter record (version 3) stores it. The storage
// order is recorded as row-major only for a block with more than one row and
// more than one column: a vector's values lie the same way in either order, so
// an Eigen::RowVectorXd (row-major) and a 1xN Eigen::MatrixXd (column-major)
// agree.
struct block_shape {
    std::uint64_t rows = 0;
    std::uint64_t cols = 0;
    std::uint8_t order = 0;  // 0 column-major, 1 row-major
};

template <class E>
block_shape shape_of(const E& e) {
    const bool matrix = e.rows() > 1 && e.cols() > 1;
    return {static_cast<std::uint64_t>(e.rows()), static_cast<std::uint64_t>(e.cols()),
            static_cast<std::uint8_t>(matrix && eigen_expr_t<E>::IsRowMajor ? 1 : 0)};
}

// "3x4 (column-major)"; an order byte of a damaged record shows as a number.
inline std::string shape_text(const block_shape& s) {
    const std::string order = s.order == 0   ? "column-major"
                              : s.order == 1 ? "row-major"
                                             : "storage order " + std::to_string(s.order);
    return std::to_string(s.rows) + "x" + std::to_string(s.cols) + " (" + order + ")";
}

// Reads from a stream, keeping the CRC-32C of everything read, or from
// memory: the body of a version-2 record, read whole and checked first.
class checkpoint_reader {
public:
    checkpoint_reader(std::istream& in, std::string who) : in_(&in), who_(std::move(who)) {}
    checkpoint_reader(const char* data, std::size_t size, std::string who)
        : mem_(data),
          left_(size),
          who_(std::move(who)) {}

    const std::string& who() const noexcept { return who_; }

    [[noreturn]] void fail(const std::string& problem) const {
        throw clr::optim::checkpoint_error(who_ + ": " + problem);
    }

    // `what` names the field being read, so a truncated file says where.
    void bytes(char* p, std::size_t n, const std::string& what) {
        if (!in_) {
            if (n > left_) fail("checkpoint is truncated (reading " + what + ")");
            if (n != 0) std::memcpy(p, mem_, n);
            mem_ += n;
            left_ -= n;
            return;
        }
        std::streamsize got = 0;
        bool failed = false;
        try {
            in_->read(p, static_cast<std::streamsize>(n));
            got = in_->gcount();
        } catch (const std::ios_base::failure&) {
            // exceptions() enabled: the same outcome as a short read.
            got = in_->gcount();
            failed = true;
        }
        if (static_cast<std::size_t>(got) != n) {
            if (failed && !in_->eof()) fail("reading the checkpoint failed (reading " + what + ")");
            fail("checkpoint is truncated (reading " + what + ")");
        }
        crc_.update(p, n);
    }

    // n bytes into a string that grows as they arrive, so that a damaged
    // length cannot make it allocate more than the stream holds.
    std::string text(std::uint64_t n, const std::string& what) {
        if (!in_ && n > left_) fail("checkpoint is truncated (reading " + what + ")");
        constexpr std::uint64_t chunk = std::uint64_t(1) << 20;
        std::string s;
        while (s.size() < n) {
            const std::size_t have = s.size();
            const auto more = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, n - have));
            s.resize(have + more);
            bytes(&s[have], more, what);
        }
        return s;
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

    double f64(const std::string& what) {
        const auto bits = integer<std::uint64_t>(what);
        double v;
        std::memcpy(&v, &bits, 8);
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

    // The magic tag and format version every record starts with. Returns the
    // version, one of 1 .. newest.
    std::uint32_t header(const char (&magic)[9], const char* kind, std::uint32_t newest) {
        char got[8];
        bytes(got, 8, "the magic tag");
        if (std::memcmp(got, magic, 8) != 0)
            fail(std::string("not a ") + kind + " (wrong magic tag, expected \"" + magic + "\")");
        const auto version = integer<std::uint32_t>("the format version");
        if (version == 0 || version > newest)
            fail("checkpoint format version " + std::to_string(version) +
                 " is not supported (this build reads " +
                 (newest == 1   ? std::string("version 1")
                  : newest == 2 ? std::string("versions 1 and 2")
                                : "versions 1 to " + std::to_string(newest)) +
                 ")");
        return version;
    }

    void scalar_size(std::size_t scalar_bytes) {
        const auto size = integer<std::uint8_t>("the scalar size");
        if (size != scalar_bytes)
            fail("checkpoint holds " + std::to_string(size) + "-byte values (" + scalar_name(size) +
                 "), this side uses " + std::to_string(scalar_bytes) + "-byte values (" +
                 scalar_name(scalar_bytes) + ")");
    }

    void block_count(std::size_t expected_count) {
        const auto count = integer<std::uint64_t>("the block count");
        if (count != expected_count)
            fail("checkpoint has " + std::to_string(count) + " blocks, " + std::to_string(expected_count) +
                 (expected_count == 1 ? " is" : " are") + " registered");
    }

    void block_size(std::size_t b, Eigen::Index expected) {
        const auto n = integer<std::uint64_t>("the size of block " + std::to_string(b));
        const auto want = static_cast<std::uint64_t>(expected);
        if (n != want)
            fail("block " + std::to_string(b) + " has " + std::to_string(want) + " values, checkpoint has " +
                 std::to_string(n));
    }

    // Rows, columns and storage order of block b, checked against the
    // caller's as each is read (so a damaged one is refused before anything is
    // allocated from it).
    void block_shape_of(std::size_t b, const block_shape& expected) {
        const std::string where = " of block " + std::to_string(b);
        block_shape got;
        got.rows = integer<std::uint64_t>("the rows" + where);
        got.cols = integer<std::uint64_t>("the columns" + where);
        got.order = integer<std::uint8_t>("the storage order" + where);
        if (got.rows != expected.rows || got.cols != expected.cols || got.order != expected.order)
            fail("block " + std::to_string(b) + " is " + shape_text(expected) + ", checkpoint has " +
                 shape_text(got));
    }

    // Block count and sizes, checked against what the caller has.
    template <class SizeAt>
    void block_sizes(std::size_t expected_count, SizeAt size_at) {
        block_count(expected_count);
        for (std::size_t b = 0; b < expected_count; ++b) block_size(b, size_at(b));
    }

    std::uint32_t crc() const noexcept { return crc_.value(); }
    std::size_t remaining() const noexcept { return left_; }

private:
    std::istream* in_ = nullptr;
    const char* mem_ = nullptr;
    std::size_t left_ = 0;
    std::string who_;
    crc32c crc_;
};

// The first non-finite value of p[0 .. n), as "nan at index 3", or empty.
template <class T>
std::string first_non_finite(const T* p, Eigen::Index n) {
    for (Eigen::Index i = 0; i < n; ++i)
        if (!std::isfinite(p[i])) return to_text(p[i]) + " at index " + std::to_string(i);
    return {};
}

inline constexpr char blocks_magic[9] = "CLRBLOCK";

template <class T>
struct block_view {
    T* data;
    Eigen::Index size;
    block_shape shape;
};

template <class T, class E>
block_view<T> view_of(const std::string& who, std::size_t index, E& e) {
    require_contiguous(who, ("block " + std::to_string(index)).c_str(), e);
    return {const_cast<T*>(e.data()), e.size(), shape_of(e)};
}

}  // namespace clr::detail

#endif  // CLR_OPTIM_DETAIL_CHECKPOINT_HPP
