// Built against an installed or embedded clr with its torch component: a
// libtorch SGD driven by clr::torch::scheduler must hold the schedule's rate
// after each step, and land where plain arithmetic puts the weights.
#include <clr/torch.hpp>

#include <torch/torch.h>

#include <cstdio>

int main() {
    auto w = torch::ones({3}, torch::kFloat64).requires_grad_(true);
    torch::optim::SGD opt({w}, torch::optim::SGDOptions(1.0));
    // 0.5, 0.25, 0.125, ...: every rate and update exact in binary.
    clr::torch::scheduler sched(opt, clr::step_decay<double>(0.5, 1, 0.5));
    for (int i = 0; i < 3; ++i) {
        opt.zero_grad();
        (w * 0.5).sum().backward();  // gradient 0.5
        opt.step();
        sched.step();
    }
    // w = 1 - 0.5 * (0.5 + 0.25 + 0.125) = 0.5625; the next rate is 0.0625.
    const double got = w[0].item<double>(), lr = opt.param_groups()[0].options().get_lr();
    if (sched.steps() != 3 || got != 0.5625 || lr != 0.0625 || sched.last_lr().at(0) != 0.0625) {
        std::printf("after 3 steps: steps %llu, w = %.17g (expected 0.5625), lr = %.17g (expected 0.0625)\n",
                    static_cast<unsigned long long>(sched.steps()), got, lr);
        return 1;
    }
    try {
        torch::optim::Adagrad no_momentum({w}, torch::optim::AdagradOptions(0.1));
        clr::torch::scheduler bad(no_momentum, clr::triangular<double>(0.1, 0.2, 5).with_momentum(0.8, 0.9));
        std::printf("Adagrad accepted a momentum-cycling schedule\n");
        return 1;
    } catch (const std::invalid_argument&) {}
    std::printf("clr::torch drove torch::optim::SGD: w = %g after 3 steps\n", got);
    return 0;
}
