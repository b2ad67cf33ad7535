// The names a README.md code fragment may take from the reader's own program,
// declared so that cmake/clrCheckReadme.cmake can compile the fragment (it
// does not link or run it). Keep to what a reader plainly has: their
// parameters and gradients, a stream to save to, a function that trains one
// mini-batch.
#ifndef CLR_TESTS_README_PRELUDE_HPP
#define CLR_TESTS_README_PRELUDE_HPP

#include <Eigen/Core>

#include <cstdint>
#include <fstream>
#include <sstream>

namespace readme {
extern Eigen::MatrixXf W, dW;           // a parameter block and its gradient
extern std::ofstream checkpoint;        // where a checkpoint goes
extern std::ifstream saved_checkpoint;  // where one comes back from
double train_one_batch(double lr);      // trains one mini-batch at rate lr, returns the loss
void compute_gradients();               // fills dW
extern std::uint64_t batches_per_epoch;
extern int steps;
}  // namespace readme
using namespace readme;

#endif
