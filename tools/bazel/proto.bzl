"""C++ code generation from .proto files with the system protoc and grpc_cpp_plugin.

Bazel 4's rules_proto needs protobuf's source tree, which cannot be fetched offline, so
this genrule calls Debian's /usr/bin/protoc directly. See docs/building.md.
"""

def cc_proto_grpc_library(name, src, visibility = None):
    """Generates `<name>_proto` (messages) and `<name>_grpc` (services) cc_libraries.

    Args:
      name: base name of the generated targets.
      src: the .proto file, relative to this package, which is also the import root
        (e.g. "pulsedb/sync/v1/sync.proto").
      visibility: visibility of both libraries.
    """
    base = src[:-len(".proto")]
    pb = [base + ".pb.h", base + ".pb.cc"]
    grpc = [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    native.genrule(
        name = name + "_codegen",
        srcs = [src],
        outs = pb + grpc,
        # The import root is the package directory, wherever the package sits (this
        # repository or an external one): strip the src's relative path from its
        # execution path.
        cmd = " ".join([
            "SRC=$(execpath %s);" % src,
            "ROOT=$${SRC%%/%s};" % src,
            "/usr/bin/protoc -I$$ROOT",
            "--cpp_out=$(RULEDIR)",
            "--grpc_out=$(RULEDIR)",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "$$SRC",
        ]),
    )
    native.cc_library(
        name = name + "_proto",
        srcs = [base + ".pb.cc"],
        hdrs = [base + ".pb.h"],
        includes = ["."],
        deps = ["@system//:protobuf"],
        visibility = visibility,
    )
    native.cc_library(
        name = name + "_grpc",
        srcs = [base + ".grpc.pb.cc"],
        hdrs = [base + ".grpc.pb.h"],
        includes = ["."],
        deps = [
            ":" + name + "_proto",
            "@system//:grpcpp",
        ],
        visibility = visibility,
    )
