// Built against an installed or embedded clr with its optim component: a few
// SGD updates of one Eigen vector under a constant rate must land exactly
// where plain arithmetic puts them.
#include <clr/clr.hpp>
#include <clr/optim/checkpoint.hpp>
#include <clr/optim/optimizer.hpp>
#include <clr/optim/sgd.hpp>

#include <Eigen/Core>

#include <cstdio>
#include <sstream>

int main() {
    Eigen::VectorXd w = Eigen::VectorXd::Constant(3, 1.0);
    Eigen::VectorXd dw = Eigen::VectorXd::Constant(3, 0.5);
    clr::optim::sgd opt(clr::constant<double>(0.25));
    opt.add(w, dw);
    for (int i = 0; i < 4; ++i) opt.step();
    // Each step: w -= 0.25 * 0.5, exact in binary.
    if (opt.steps() != 4 || w(0) != 0.5 || w(1) != 0.5 || w(2) != 0.5) {
        std::printf(
            "after 4 steps of sgd(lr 0.25) on gradient 0.5: steps %llu, w = %.17g %.17g %.17g; expected "
            "0.5\n",
            static_cast<unsigned long long>(opt.steps()), w(0), w(1), w(2));
        return 1;
    }
    // The public checkpoint headers are installed: a round trip restores the
    // step counter and the last rate applied.
    try {
        std::stringstream file;
        clr::optim::save_blocks(file, w);
        opt.save(file);
        Eigen::VectorXd w2(3), dw2(3);
        clr::optim::sgd resumed(clr::constant<double>(0.25));
        resumed.add(w2, dw2);
        clr::optim::load_blocks(file, w2);
        resumed.load(file);
        if (resumed.steps() != 4 || !resumed.last_lr() || *resumed.last_lr() != 0.25 || w2 != w) {
            std::printf("a checkpoint of 4 steps at lr 0.25 resumed at step %llu\n",
                        static_cast<unsigned long long>(resumed.steps()));
            return 1;
        }
    } catch (const clr::optim::checkpoint_error& e) {
        std::printf("checkpoint round trip: %s\n", e.what());
        return 1;
    }
    clr::optim::sgd_options o;
    o.momentum = 2.0;
    try {
        clr::optim::sgd bad(clr::constant<double>(0.25), o);
        std::printf("sgd accepted momentum = 2 (%llu steps)\n", static_cast<unsigned long long>(bad.steps()));
        return 1;
    } catch (const clr::invalid_parameter& e) {
        if (e.param() != "momentum" || e.value() != "2") {
            std::printf("invalid_parameter names %s = %s, not momentum = 2: %s\n", e.param().c_str(),
                        e.value().c_str(), e.what());
            return 1;
        }
    }
    std::printf("clr %s optim consumer: ok\n", CLR_VERSION_STRING);
    return 0;
}
