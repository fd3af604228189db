"""Tools shared by the tests and the benchmarks: ports, waiting, and real processes."""
