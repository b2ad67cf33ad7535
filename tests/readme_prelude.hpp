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
extern int local_batch, global_batch;  // examples on this rank, on all ranks

// The few names of <mpi.h> a data-parallel fragment calls, with the types of
// MPI's C interface (opaque handles), so that the fragment compiles where MPI
// is not installed; it is compiled, never linked.
using MPI_Comm = struct readme_mpi_comm*;
using MPI_Datatype = struct readme_mpi_datatype*;
using MPI_Op = struct readme_mpi_op*;
extern MPI_Comm MPI_COMM_WORLD;
extern MPI_Datatype MPI_FLOAT;
extern MPI_Op MPI_SUM;
extern void* MPI_IN_PLACE;
int MPI_Allreduce(const void* sendbuf, void* recvbuf, int count, MPI_Datatype datatype, MPI_Op op,
                  MPI_Comm comm);
}  // namespace readme
using namespace readme;

#endif
