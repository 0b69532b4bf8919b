"""The external repositories PulseSync builds with, all local (nothing is downloaded).

Used by this repository's WORKSPACE, and by any workspace that depends on PulseSync:

    local_repository(name = "pulsesync", path = "path/to/pulsesync")
    load("@pulsesync//tools/bazel:deps.bzl", "pulsesync_dependencies")
    pulsesync_dependencies(pulsesync_path = "path/to/pulsesync")

Run `tools/dev setup` in the PulseSync checkout first: it makes the patched rules_cc.
"""

def pulsesync_dependencies(pulsesync_path = "."):
    """Declares rules_java, rules_cc, remote_coverage_tools and the system libraries.

    Args:
      pulsesync_path: path of the PulseSync checkout, relative to the calling workspace.
    """
    root = pulsesync_path.rstrip("/")

    # Debian's rules_java works as it is.
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )

    # A patched copy of Debian's rules_cc (0.0.4 targets a newer Bazel than Debian's
    # 4.2.3), made by `tools/dev setup` in an ignored folder.
    native.local_repository(
        name = "rules_cc",
        path = root + "/third_party/offline/rules_cc",
    )

    # `bazel test` resolves the coverage tools even without coverage; two empty targets do.
    native.local_repository(
        name = "remote_coverage_tools",
        path = root + "/third_party/remote_coverage_tools",
    )

    # The system's gRPC, protobuf, abseil, RocksDB, GoogleTest, ... as link-only libraries.
    native.new_local_repository(
        name = "system",
        build_file = "@pulsesync//third_party:system.BUILD" if root != "." else "//third_party:system.BUILD",
        path = "/usr",
    )
