// Data-parallel tests without MPI: the ranks of a team are threads of one
// process, and team::sum is MPI_Allreduce(MPI_IN_PLACE, ..., MPI_SUM) among
// them. Every rank publishes its buffer, all sum the buffers in rank order
// (so every rank gets the same bits, as a real allreduce delivers), and each
// writes its own buffer back once all have read. Shared by the optimizers'
// tests (tests/test_reduce.cpp) and mnist_clr's (test_data_parallel.cpp).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace test_support {

// A reusable barrier (C++17 has none): the last thread to arrive starts the
// next generation and wakes the others.
class barrier {
public:
    explicit barrier(int count) : count_(count) {}

    void wait() {
        std::unique_lock<std::mutex> lock(m_);
        const long generation = generation_;
        if (++arrived_ == count_) {
            arrived_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation_ != generation; });
        }
    }

private:
    std::mutex m_;
    std::condition_variable cv_;
    int count_;
    int arrived_ = 0;
    long generation_ = 0;
};

// What the ranks of one team share; each thread holds a team(hub, rank).
struct team_hub {
    explicit team_hub(int ranks) : size(ranks), sync(ranks), slots(static_cast<std::size_t>(ranks)) {}
    int size;
    barrier sync;
    std::vector<const void*> slots;
};

class team {
public:
    team(team_hub& hub, int rank) : hub_(&hub), rank_(rank) {}
    int rank() const noexcept { return rank_; }
    int size() const noexcept { return hub_->size; }

    template <class T>
    void sum(T* data, std::size_t n) const {
        hub_->slots[static_cast<std::size_t>(rank_)] = data;
        hub_->sync.wait();  // every buffer published
        std::vector<T> total(n, T(0));
        for (const void* slot : hub_->slots)
            for (std::size_t i = 0; i < n; ++i) total[i] += static_cast<const T*>(slot)[i];
        hub_->sync.wait();  // every buffer read before any is overwritten
        for (std::size_t i = 0; i < n; ++i) data[i] = total[i];
    }

private:
    team_hub* hub_;
    int rank_;
};

}  // namespace test_support
