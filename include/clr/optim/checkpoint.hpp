// clr: cyclical learning-rate schedules for C++17.
// SPDX-License-Identifier: MIT
//
// Checkpoints: checkpoint_error, and save_blocks / load_blocks for the
// parameters themselves (which an optimizer only borrows; its own state goes
// through opt.save and opt.load, see <clr/optim/optimizer.hpp>):
//
//     std::ofstream out("run.ckpt", std::ios::binary);
//     clr::optim::save_blocks(out, w1, b1, w2, b2);   // parameters
//     opt.save(out);                                  // optimizer state
//     ...
//     std::ifstream in("run.ckpt", std::ios::binary);
//     clr::optim::load_blocks(in, w1, b1, w2, b2);
//     opt.load(in);                                   // same blocks registered
//
// Loading reads and checks the whole record before touching anything, so a
// bad file leaves the destination unchanged. Every failure, whatever the
// stream's exceptions() mask, is a checkpoint_error.
//
// Parameter record (save_blocks), all little-endian:
//     8 bytes "CLRBLOCK", u32 version = 3, u8 scalar size (4 or 8),
//     u64 block count B, B x (u64 rows, u64 columns, u8 storage order:
//     0 column-major, 1 row-major), then each block's values in storage
//     order, then a u32 CRC-32C of every byte before it.
// A block with one row or one column is recorded as column-major: its values
// lie the same way in either order. load_blocks refuses a block whose shape or
// order differs from the caller's (a 3x4 record into a 4x3 matrix, or a
// column-major one into a row-major matrix), naming the block and both.
// Version 2 has a u64 size per block in place of its shape, and version 1
// (clr 0.1) is version 2 without the checksum. Both still load, by size
// alone: they record no shape or order to check, so such a file loads into
// any block of as many values, as it always did.
// The shapes are checked against the caller's blocks as they are read, so a
// damaged one cannot make load_blocks allocate more than the blocks hold; a
// damaged value fails the checksum, checked before any block is written.
#ifndef CLR_OPTIM_CHECKPOINT_HPP
#define CLR_OPTIM_CHECKPOINT_HPP

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace clr::optim {

// Thrown by every checkpoint read or write that fails: wrong file, damaged or
// truncated file, a file that does not match the registered blocks, or (for
// an optimizer) settings that differ from the checkpoint's.
class checkpoint_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace clr::optim

// The readers and writers throw checkpoint_error, declared just above.
#include "detail/block.hpp"
#include "detail/checkpoint.hpp"

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
    w.integer(detail::blocks_version);
    w.integer(static_cast<std::uint8_t>(sizeof(T)));
    w.integer(static_cast<std::uint64_t>(views.size()));
    for (const auto& v : views) {
        w.integer(v.shape.rows);
        w.integer(v.shape.cols);
        w.integer(v.shape.order);
    }
    for (const auto& v : views) w.values(v.data, v.size);
    w.integer(w.crc());
}

// Reads what save_blocks wrote into blocks of the same shapes and storage
// orders (of the same sizes, for a record of version 1 or 2), in the same
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
    const auto version = r.header(detail::blocks_magic, "clr parameter file", detail::blocks_version);
    r.scalar_size(sizeof(T));
    if (version >= 3) {
        r.block_count(views.size());
        for (std::size_t b = 0; b < views.size(); ++b) r.block_shape_of(b, views[b].shape);
    } else {
        r.block_sizes(views.size(), [&](std::size_t b) { return views[b].size; });
    }
    std::vector<std::vector<T>> staged(views.size());
    for (std::size_t b = 0; b < views.size(); ++b) {
        staged[b].resize(static_cast<std::size_t>(views[b].size));
        r.values(staged[b].data(), views[b].size, "the values of block " + std::to_string(b));
    }
    if (version >= 2) {
        const std::uint32_t computed = r.crc();
        const auto stored = r.template integer<std::uint32_t>("the checksum");
        if (stored != computed)
            r.fail("checksum mismatch (the record says " + detail::hex32(stored) + ", its bytes give " +
                   detail::hex32(computed) + "): the parameter file is damaged");
    }
    for (std::size_t b = 0; b < views.size(); ++b)
        std::copy(staged[b].begin(), staged[b].end(), views[b].data);
}

}  // namespace clr::optim

#endif  // CLR_OPTIM_CHECKPOINT_HPP
