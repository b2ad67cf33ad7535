# shellcheck shell=bash
# make_idx DIR TRAIN TEST: the four MNIST files of a small data set in DIR,
# TRAIN and TEST images of 28x28 random pixels with random labels, the same
# on every call (perl's srand). For tests of the command line, which need
# files mnist_clr accepts, not digits worth learning.
make_idx() {
  perl -e '
    use strict;
    use warnings;
    my ($dir, $train, $test) = @ARGV;
    srand(7);
    sub put {
      my ($path, @parts) = @_;
      open(my $f, ">:raw", $path) or die "$path: $!\n";
      print $f @parts;
      close($f) or die "$path: $!\n";
    }
    for my $set (["train", $train], ["t10k", $test]) {
      my ($name, $n) = @$set;
      put("$dir/$name-images-idx3-ubyte", pack("N4", 0x803, $n, 28, 28),
          pack("C*", map { int(rand(256)) } 1 .. $n * 784));
      put("$dir/$name-labels-idx1-ubyte", pack("N2", 0x801, $n), pack("C*", map { int(rand(10)) } 1 .. $n));
    }' "$1" "$2" "$3"
}
