// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// The CRC-32C of every clr checkpoint: the Eigen optimizers' records and
// parameter files (<clr/optim/checkpoint.hpp>) and clr::torch's scheduler
// records and checked files (<clr/torch.hpp>). A header of its own, with no
// dependency, because clr::torch has no Eigen to include the rest of the
// checkpoint code with.
#ifndef CLR_DETAIL_CRC32C_HPP
#define CLR_DETAIL_CRC32C_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace clr::detail {

inline std::string hex32(std::uint32_t v) {
    static const char digits[] = "0123456789abcdef";
    std::string s = "0x00000000";
    for (std::size_t i = 0; i < 8; ++i) s[9 - i] = digits[(v >> (4 * i)) & 0xFu];
    return s;
}

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
// iSCSI, ext4 and Btrfs: it catches every error of up to 3 bits in records far
// longer than a checkpoint header, and every burst of up to 32 bits. Table-driven,
// one byte at a time: a checkpoint is written and read at disk speed anyway.
constexpr std::array<std::uint32_t, 256> crc32c_table() noexcept {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        t[i] = c;
    }
    return t;
}

class crc32c {
public:
    void update(const char* p, std::size_t n) noexcept {
        static constexpr std::array<std::uint32_t, 256> table = crc32c_table();
        std::uint32_t c = state_;
        for (std::size_t i = 0; i < n; ++i)
            c = table[(c ^ static_cast<unsigned char>(p[i])) & 0xFFu] ^ (c >> 8);
        state_ = c;
    }
    std::uint32_t value() const noexcept { return ~state_; }

private:
    std::uint32_t state_ = 0xFFFFFFFFu;
};

}  // namespace clr::detail

#endif  // CLR_DETAIL_CRC32C_HPP
