// ThreadSanitizer suppressions, compiled into every test binary (TSan asks for them
// through this hook; in other builds the function is simply unused).
//
// Debian's gRPC, protobuf, abseil and RocksDB (and the snappy and OpenSSL they use) are
// prebuilt without TSan: it cannot see
// the atomics inside them, so their lock-free structures (RocksDB's memtable skiplist,
// gRPC's and abseil's synchronization) look racy when they are not. Our own code is
// instrumented and nothing of it is suppressed.
extern "C" const char* __tsan_default_suppressions() {
  return "called_from_lib:librocksdb.so\n"
         "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgrpc++.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libprotobuf.so\n"
         "race:librocksdb.so\n"
         "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libprotobuf.so\n"
         "race:libabsl_\n"
         // RocksDB's compression and gRPC's TLS libraries, also uninstrumented.
         "called_from_lib:libsnappy.so\n"
         "called_from_lib:libcrypto.so\n"
         "called_from_lib:libssl.so\n"
         "race:libsnappy.so\n"
         "race:libcrypto.so\n"
         "race:libssl.so\n"
         // gRPC's header-only C++ layer is compiled into our binaries, but the core
         // threads that hand it results are not instrumented. Only races whose top frame
         // is in gRPC's own code are ignored: our handlers stay checked.
         "race_top:grpc::\n"
         "race_top:grpc_core::\n";
}
